//! Numbers written plainly (`-123.4500`) and their exact running sums.
//!
//! The streaming path adds up the money columns of millions of rows. Each cell is parsed by
//! [`plain_number`] into an integer mantissa and a scale, and added into an [`ExactSum`]:
//! an `i128` mantissa at the largest scale added so far. That is what `rust_decimal`
//! addition gives (the exact sum, at the larger scale of the two) for as long as the sum
//! fits a `Decimal`'s 96-bit mantissa, at a fraction of the cost (no scale alignment of
//! 96-bit numbers on every row). A sum that would no longer fit is refused, and the caller
//! adds that row with `Decimal` arithmetic instead, so nothing is ever rounded here.

use rust_decimal::Decimal;

/// A plain number whose digits fit an `i64` (any 18 digits do), with at most
/// [`MAX_SCALE`] decimals: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlainNumber {
    pub mantissa: i64,
    pub scale: u8,
}

/// Decimals a [`PlainNumber`] holds; numbers with more are left to the full reader.
const MAX_SCALE: usize = 18;

/// Powers of ten up to 10^18 (scales of plain numbers differ by at most 18).
const POW10: [i64; 19] = {
    let mut p = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// A number written plainly (`-123.4500`, with the profile's decimal separator) that fits a
/// [`PlainNumber`]: the value [`super::cells::parse_decimal`] gives it. `None` for
/// anything else (the full reader decides): signs other than a leading `-`, separators,
/// symbols, spaces, exponents, `1.`, `.5`, `-`, more digits or decimals.
/// (Inlined: a call per cell, three a row of a DSP report, cost more than the reading.)
#[inline(always)]
pub fn plain_number(s: &[u8], decimal: u8) -> Option<PlainNumber> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, point) = if digits.len() <= 19 { short_digits(digits, decimal)? } else { long_digits(digits, decimal)? };
    let scale = match point {
        // "1." is left to the full reader.
        Some(p) if p + 1 == digits.len() => return None,
        Some(p) => digits.len() - p - 1,
        None if digits.is_empty() => return None,
        None => 0,
    };
    if scale > MAX_SCALE {
        return None;
    }
    Some(PlainNumber { mantissa: if negative { -mantissa } else { mantissa }, scale: scale as u8 })
}

/// The digits of up to 19 bytes (at most 19 digits: below 10^19, so a `u64` holds every
/// step without overflow checks, and the `i64` check is made once at the end) and the
/// position of the decimal separator. Runs of eight digits are read as one 64-bit word
/// ([`eight_digits`]): a DSP report's amounts carry up to ten decimals, and the digit loop
/// had cost ~10 instructions a byte.
#[inline]
fn short_digits(digits: &[u8], decimal: u8) -> Option<(i64, Option<usize>)> {
    let n = digits.len();
    let (mut mantissa, mut at, mut point) = (0u64, 0usize, None);
    loop {
        while at + 8 <= n {
            let Some(eight) = digits.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).and_then(|w| eight_digits(u64::from_le_bytes(w))) else { break };
            mantissa = mantissa * 100_000_000 + eight;
            at += 8;
        }
        while at < n {
            let d = digits[at].wrapping_sub(b'0');
            if d >= 10 {
                break;
            }
            mantissa = mantissa * 10 + u64::from(d);
            at += 1;
        }
        if at == n {
            break;
        }
        // One separator, not first ("1." is the caller's to refuse).
        if digits[at] != decimal || at == 0 || point.is_some() {
            return None;
        }
        point = Some(at);
        at += 1;
    }
    Some((i64::try_from(mantissa).ok()?, point))
}

/// Eight ASCII digits read as one little-endian word (the first digit in the lowest byte),
/// as their number; `None` when any byte is no digit. The test and the three multiplications
/// are those of the fast_float algorithm (Lemire, "Number Parsing at a Gigabyte per Second").
#[inline(always)]
fn eight_digits(word: u64) -> Option<u64> {
    // Every byte is 0x30..=0x39: its high nibble is 3, and adding 6 leaves it 3.
    let high = word & 0xF0F0_F0F0_F0F0_F0F0;
    let carried = word.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    if high | (carried >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = word - 0x3030_3030_3030_3030;
    // Pairs of digits, then fours, then the eight (each step within 64 bits).
    let v = v * 10 + (v >> 8);
    let v1 = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let v2 = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    Some(u64::from((v1.wrapping_add(v2) >> 32) as u32))
}

/// [`short_digits`] for longer texts (leading zeros), with a check at every step.
fn long_digits(digits: &[u8], decimal: u8) -> Option<(i64, Option<usize>)> {
    read_digits(digits, decimal, |m: i64, d| m.checked_mul(10)?.checked_add(i64::from(d)))
}

/// Digits (`step` adds one to the mantissa) with at most one decimal separator, not first.
#[inline]
fn read_digits<T: Copy + Default>(digits: &[u8], decimal: u8, step: impl Fn(T, u8) -> Option<T>) -> Option<(T, Option<usize>)> {
    let mut mantissa = T::default();
    let mut point: Option<usize> = None;
    for (i, &b) in digits.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            mantissa = step(mantissa, d)?;
        } else if b == decimal && point.is_none() && i > 0 {
            point = Some(i);
        } else {
            return None;
        }
    }
    Some((mantissa, point))
}

impl PlainNumber {
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.mantissa, u32::from(self.scale))
    }
}

/// An exact running sum of plain numbers (see the module's note): a mantissa of up to 95
/// bits and sign (`hi`, `lo`) and its scale, in 16 bytes (sums are kept for every key of a
/// large file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExactSum {
    lo: u64,
    hi: i32,
    scale: u8,
}

/// Largest magnitude of an [`ExactSum`]'s mantissa plus one (a `Decimal` holds 96 bits; a
/// sum this large is refused a little earlier, and added with `Decimal` arithmetic).
const SUM_LIMIT: u128 = 1 << 95;

impl ExactSum {
    fn mantissa(self) -> i128 {
        (i128::from(self.hi) << 64) | i128::from(self.lo)
    }

    /// The sum with `n` added; `None` when it would not fit (then add `n` with `Decimal`
    /// arithmetic elsewhere: this sum is left as it was).
    #[inline]
    pub fn plus(self, n: PlainNumber) -> Option<ExactSum> {
        let (mut m, mut scale) = (self.mantissa(), self.scale);
        let mut add = i128::from(n.mantissa);
        if n.scale > scale {
            m = m.checked_mul(i128::from(POW10[usize::from(n.scale - scale)]))?;
            scale = n.scale;
        } else if n.scale < scale {
            // At most 2^63 · 10^18 < 2^124: no overflow.
            add *= i128::from(POW10[usize::from(scale - n.scale)]);
        }
        let m = m.checked_add(add)?;
        (m.unsigned_abs() < SUM_LIMIT).then_some(ExactSum { lo: m as u64, hi: (m >> 64) as i32, scale })
    }

    pub fn to_decimal(self) -> Decimal {
        // Within 95 bits and at a scale of at most 18 by construction.
        Decimal::try_from_i128_with_scale(self.mantissa(), u32::from(self.scale)).unwrap_or_default()
    }
}

/// An exact sum of plain numbers kept by scale: one `i128` a scale (0 to [`MAX_SCALE`]) and
/// the scales added. Adding a number is one addition, with no rescaling and no overflow
/// check (2^64 numbers of 64 bits fit an `i128`); the parts are brought together when the
/// sum is read ([`ScaledSum::parts`]). For control figures, which add every plain row's
/// numbers once more: through [`ExactSum`] that had been ~100 instructions a row. Exact for
/// up to 2^32 numbers (each scale's sum stays within the 95 bits a `Decimal` holds); the
/// streaming importer keeps one per chunk, whose rows are far fewer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScaledSum {
    by_scale: [i128; MAX_SCALE + 1],
    scales: u32,
}

impl ScaledSum {
    #[inline(always)]
    pub fn add(&mut self, n: PlainNumber) {
        if let Some(sum) = self.by_scale.get_mut(usize::from(n.scale)) {
            *sum += i128::from(n.mantissa);
            self.scales |= 1 << n.scale;
        }
    }

    /// Whether any number was added.
    pub fn is_empty(&self) -> bool {
        self.scales == 0
    }

    /// The sum as `Decimal` values to add up: one, the exact sum at the largest scale added
    /// (what `Decimal` addition of the numbers gives), when that fits 95 bits; else the sum
    /// of each scale (each fits), left to `Decimal` addition.
    pub fn parts(&self) -> Vec<Decimal> {
        if self.is_empty() {
            return Vec::new();
        }
        let top = 31 - self.scales.leading_zeros().min(31);
        let mut whole: Option<i128> = Some(0);
        let mut parts = Vec::new();
        for (scale, &sum) in self.by_scale.iter().enumerate() {
            if self.scales & (1 << scale) == 0 {
                continue;
            }
            whole = whole.and_then(|w| w.checked_add(sum.checked_mul(10i128.pow(top - scale as u32))?));
            parts.push(Decimal::try_from_i128_with_scale(sum, scale as u32).unwrap_or_default());
        }
        match whole {
            Some(w) if w.unsigned_abs() < SUM_LIMIT => vec![Decimal::try_from_i128_with_scale(w, top).unwrap_or_default()],
            _ => parts,
        }
    }
}

/// `sum + n` for a sum kept as an `i64` mantissa and its scale (the larger scale of the
/// two, as [`ExactSum::plus`] and `Decimal` addition give it); `None` when it does not fit
/// 64 bits (the caller keeps the sum wider).
#[inline]
pub fn narrow_plus(sum: (i64, u8), n: PlainNumber) -> Option<(i64, u8)> {
    let ((m, scale), add) = (sum, n.mantissa);
    if n.scale > scale {
        let m = m.checked_mul(POW10[usize::from(n.scale - scale)])?;
        Some((m.checked_add(add)?, n.scale))
    } else {
        let add = add.checked_mul(POW10[usize::from(scale - n.scale)])?;
        Some((m.checked_add(add)?, scale))
    }
}

/// A number written plainly, as [`plain_number`] reads it, as a `Decimal`: the value
/// [`super::cells::parse_decimal`] gives it. `None` for anything else, longer numbers too
/// (19 to 28 digits fit a `Decimal`, but are rare enough to leave to the full parser).
pub fn plain_decimal(s: &[u8], decimal: u8) -> Option<Decimal> {
    let n = plain_number(s, decimal)?;
    let mut d = n.to_decimal();
    // "-0" and "-0.00" keep their sign, as the full parser's do.
    if n.mantissa == 0 && s.first() == Some(&b'-') {
        d.set_sign_negative(true);
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::cells::{NumberFormat, parse_decimal};
    use proptest::prelude::*;

    #[test]
    fn plain_decimals_agree_with_the_full_parser() {
        for s in ["0", "12", "-3.5", "0.0000000001", "007", "-0", "-0.00", "123456789012345678", "-12345678.9012345678"] {
            let d = plain_decimal(s.as_bytes(), b'.');
            assert_eq!(d, Some(parse_decimal(s, NumberFormat::default()).unwrap()), "{s}");
            assert_eq!(d.map(|d| d.is_sign_negative()), Some(s.starts_with('-')), "{s}");
        }
        // Longer numbers and anything not plain are left to the full parser.
        for s in ["", "-", "1.", ".5", "-.5", "+1", "1,000", " 1", "1e5", "1.2.3", "$1", "12%", "9999999999999999999", "123456789012345678.0123456789", "1234567890123456789012345678901234567890123"] {
            assert_eq!(plain_decimal(s.as_bytes(), b'.'), None, "{s}");
        }
        assert_eq!(plain_decimal(b"1234,5", b','), Some(Decimal::new(12345, 1)));
        assert_eq!(plain_decimal(b"1.234", b','), None);
    }

    #[test]
    fn plain_numbers_hold_what_fits_an_i64_with_up_to_eighteen_decimals() {
        assert_eq!(plain_number(b"123456789012345678", b'.'), Some(PlainNumber { mantissa: 123456789012345678, scale: 0 }));
        assert_eq!(plain_number(b"-12345678.9012345678", b'.'), Some(PlainNumber { mantissa: -123456789012345678, scale: 10 }));
        assert_eq!(plain_number(b"0.000000000000000001", b'.'), Some(PlainNumber { mantissa: 1, scale: 18 }));
        assert_eq!(plain_number(b"9223372036854775807", b'.'), Some(PlainNumber { mantissa: i64::MAX, scale: 0 }));
        assert_eq!(plain_number(b"9223372036854775808", b'.'), None);
        assert_eq!(plain_number(b"0.0000000000000000001", b'.'), None);
        for s in ["", "-", "1.", ".5", "-.5", "+1", "1,000", "1e5", "1.2.3", " 1", "1 "] {
            assert_eq!(plain_number(s.as_bytes(), b'.'), None, "{s}");
        }
    }

    #[test]
    fn a_sum_that_would_not_fit_is_refused() {
        let at = |m: i128, scale: u8| ExactSum { lo: m as u64, hi: (m >> 64) as i32, scale };
        let top = (SUM_LIMIT - 1) as i128;
        assert_eq!(at(top, 0).plus(PlainNumber { mantissa: 1, scale: 0 }), None);
        assert_eq!(at(top, 0).plus(PlainNumber { mantissa: 1, scale: 1 }), None, "rescaling past the limit is refused");
        assert_eq!(at(top, 0).plus(PlainNumber { mantissa: -1, scale: 0 }).map(ExactSum::to_decimal), Some(Decimal::from_i128_with_scale(top - 1, 0)));
        assert_eq!(at(-top, 0).plus(PlainNumber { mantissa: -1, scale: 0 }), None);
        assert_eq!(at(-top, 3).plus(PlainNumber { mantissa: 1, scale: 0 }).map(ExactSum::to_decimal), Some(Decimal::from_i128_with_scale(-top + 1000, 3)));
        assert_eq!(std::mem::size_of::<ExactSum>(), 16);
    }

    #[test]
    fn a_narrow_sum_takes_the_larger_scale_and_refuses_what_passes_64_bits() {
        let n = |mantissa: i64, scale: u8| PlainNumber { mantissa, scale };
        assert_eq!(narrow_plus((0, 0), n(-125, 2)), Some((-125, 2)));
        assert_eq!(narrow_plus((15, 1), n(25, 2)), Some((175, 2)));
        assert_eq!(narrow_plus((175, 2), n(3, 0)), Some((475, 2)));
        assert_eq!(narrow_plus((i64::MAX - 1, 0), n(1, 0)), Some((i64::MAX, 0)));
        assert_eq!(narrow_plus((i64::MAX, 0), n(1, 0)), None);
        assert_eq!(narrow_plus((1, 0), n(1, 18)), Some((1_000_000_000_000_000_001, 18)));
        assert_eq!(narrow_plus((10, 0), n(1, 18)), None, "rescaling the sum past 64 bits");
        assert_eq!(narrow_plus((1, 18), n(10, 0)), None, "rescaling the number past 64 bits");
        assert_eq!(narrow_plus((i64::MIN + 1, 0), n(-1, 0)), Some((i64::MIN, 0)));
    }

    #[test]
    fn eight_digits_read_as_one_word() {
        let word = |t: &[u8; 8]| eight_digits(u64::from_le_bytes(*t));
        assert_eq!(word(b"12345678"), Some(12_345_678));
        assert_eq!(word(b"00000000"), Some(0));
        assert_eq!(word(b"99999999"), Some(99_999_999));
        for t in [b"1234567.", b"/2345678", b"1234567:", b"12 45678", b"1234567\xff"] {
            assert_eq!(word(t), None, "{:?}", String::from_utf8_lossy(t));
        }
        assert_eq!(plain_number(b"14.3276646062", b'.'), Some(PlainNumber { mantissa: 143_276_646_062, scale: 10 }));
        assert_eq!(plain_number(b"12345678.12345678", b'.'), Some(PlainNumber { mantissa: 1_234_567_812_345_678, scale: 8 }));
    }

    #[test]
    fn a_sum_by_scale_is_the_exact_sum_at_the_largest_scale() {
        let n = |mantissa: i64, scale: u8| PlainNumber { mantissa, scale };
        let mut sum = ScaledSum::default();
        assert!(sum.is_empty() && sum.parts().is_empty());
        for x in [n(125, 2), n(-3, 0), n(5, 1), n(0, 4)] {
            sum.add(x);
        }
        let parts = sum.parts();
        assert_eq!(parts, vec![Decimal::new(-12500, 4)]);
        assert_eq!(parts[0].scale(), 4);
        // Past 95 bits, the sums of each scale, for Decimal addition.
        let mut big = ScaledSum::default();
        for _ in 0..5000 {
            big.add(n(i64::MAX, 0));
        }
        big.add(n(1, 18));
        let parts = big.parts();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], Decimal::from_i128_with_scale(5000 * i128::from(i64::MAX), 0));
        assert_eq!(parts[1], Decimal::new(1, 18));
    }

    #[test]
    fn long_texts_of_leading_zeros_are_read_with_checks() {
        assert_eq!(plain_number(b"000000000000000000001.5", b'.'), Some(PlainNumber { mantissa: 15, scale: 1 }));
        assert_eq!(plain_number(b"99999999999999999999", b'.'), None);
        assert_eq!(plain_number(b"9999999999999999999", b'.'), None, "19 nines: past i64 but within u64");
    }

    proptest! {
        /// The unchecked reading of short texts gives what the checked reading gives.
        #[test]
        fn short_digits_agree_with_checked_digits(text in "[0-9.,]{0,19}") {
            prop_assert_eq!(short_digits(text.as_bytes(), b'.'), long_digits(text.as_bytes(), b'.'));
            prop_assert_eq!(short_digits(text.as_bytes(), b','), long_digits(text.as_bytes(), b','));
        }

        /// The same for texts of long runs of digits (read eight at a time), with a stray
        /// byte or not: digits next to the digits' neighbours in ASCII (`/`, `:`) and others.
        #[test]
        fn runs_of_digits_agree_with_checked_digits(
            int in "[0-9]{0,19}",
            frac in proptest::option::of("[0-9]{0,18}"),
            stray in proptest::option::of((0usize..19, prop_oneof![Just(b'/'), Just(b':'), Just(b'.'), Just(b' '), Just(0xFFu8), any::<u8>()])),
        ) {
            let mut text = int.into_bytes();
            if let Some(frac) = frac {
                text.push(b'.');
                text.extend_from_slice(frac.as_bytes());
            }
            if let Some((at, b)) = stray
                && at < text.len()
            {
                text[at] = b;
            }
            text.truncate(19);
            prop_assert_eq!(short_digits(&text, b'.'), long_digits(&text, b'.'), "{:?}", String::from_utf8_lossy(&text));
        }

        /// Parsing agrees with the full parser, and summing with Decimal addition (value and
        /// scale), whatever the numbers and their order (sums within a Decimal's range).
        #[test]
        fn sums_agree_with_decimal_addition(numbers in proptest::collection::vec((-999_999_999_999i64..=999_999_999_999, 0u32..=12), 0..40)) {
            let mut exact = ExactSum::default();
            let mut scaled = ScaledSum::default();
            let mut dec = Decimal::ZERO;
            for (m, scale) in numbers {
                let text = Decimal::new(m, scale).to_string();
                let n = plain_number(text.as_bytes(), b'.');
                let parsed = parse_decimal(&text, NumberFormat::default()).unwrap();
                prop_assert_eq!(n.map(PlainNumber::to_decimal), Some(parsed), "{}", text);
                let n = n.unwrap();
                exact = exact.plus(n).unwrap();
                scaled.add(n);
                dec += parsed;
                let got = exact.to_decimal();
                prop_assert_eq!(got, dec);
                prop_assert_eq!(got.scale(), dec.scale());
                let parts = scaled.parts();
                prop_assert_eq!(parts.len(), 1);
                prop_assert_eq!(parts[0], dec);
                prop_assert_eq!(parts[0].scale(), dec.scale());
            }
        }
    }
}
