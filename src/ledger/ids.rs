//! Identifier validation (domain.md §7): ISRC (no check digit), UPC/EAN/GTIN (mod-10 check
//! digit), ISWC (weighted check digit). Each parser normalises the display forms people type
//! (hyphens, spaces, dots, an "ISRC " prefix) and says precisely what is wrong otherwise.

use std::sync::LazyLock;

use regex::Regex;

static ISRC_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$").expect("static regex"));

/// Why an identifier was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    Format(String),
    CheckDigit { expected: u32, found: u32 },
}

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdError::Format(why) => write!(f, "{why}"),
            IdError::CheckDigit { expected, found } => {
                write!(f, "check digit is {found}, expected {expected}")
            }
        }
    }
}

/// True when a cell text looks like a number Excel turned into scientific notation
/// (`1.23457E+11`): the digits it stood for are gone and cannot be recovered.
/// Read by hand, not by a regex (`[+-]?[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+`, which the
/// tests check it against): it is asked of every ISRC and UPC cell, and a regex shared by
/// the reading threads hands each a cache through a lock.
pub fn is_scientific_notation(text: &str) -> bool {
    fn sign(b: &[u8]) -> &[u8] {
        b.strip_prefix(b"+").or_else(|| b.strip_prefix(b"-")).unwrap_or(b)
    }
    /// `b` less its leading digits, when there is at least one.
    fn digits(b: &[u8]) -> Option<&[u8]> {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        (n > 0).then(|| b.get(n..).unwrap_or_default())
    }
    let b = text.trim().as_bytes();
    // Most cells have no exponent at all.
    if !b.iter().any(|&c| c == b'e' || c == b'E') {
        return false;
    }
    let Some(mut rest) = digits(sign(b)) else { return false };
    if let Some(fraction) = rest.strip_prefix(b".").or_else(|| rest.strip_prefix(b",")) {
        let Some(after) = digits(fraction) else { return false };
        rest = after;
    }
    match rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        Some(exponent) => digits(sign(exponent)).is_some_and(<[u8]>::is_empty),
        None => false,
    }
}

/// Normalise and validate an ISRC; returns the 12-character code.
pub fn parse_isrc(text: &str) -> Result<String, IdError> {
    if is_canonical_isrc(text) {
        return Ok(text.to_string());
    }
    let mut s = text.trim().to_ascii_uppercase();
    if let Some(rest) = s.strip_prefix("ISRC") {
        s = rest.trim_start_matches([':', ' ']).to_string();
    }
    let code: String = s.chars().filter(|c| !matches!(c, '-' | ' ' | '.')).collect();
    if ISRC_RE.is_match(&code) {
        Ok(code)
    } else {
        Err(IdError::Format(format!(
            "ISRC '{}' is not 2 letters, 3 letters/digits and 7 digits",
            text.trim()
        )))
    }
}

/// Most ISRCs are written as the code itself: checked byte by byte (the answer
/// [`parse_isrc`] gives them, without its normalisation).
fn is_canonical_isrc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 12
        && !text.starts_with("ISRC")
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..5].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && b[5..].iter().all(u8::is_ascii_digit)
}

/// [`parse_isrc`] as a line's text: a code written as itself is interned as it stands
/// (no text allocated on the way).
pub fn isrc_text(text: &str) -> Result<crate::ledger::LineText, IdError> {
    if is_canonical_isrc(text) {
        return Ok(crate::ledger::intern(text));
    }
    parse_isrc(text).map(|code| crate::ledger::intern(&code))
}

fn gtin_check_digit(data_digits: &[u32]) -> u32 {
    // Weights 3,1,3,1… starting from the rightmost data digit.
    let sum: u32 = data_digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10
}

/// Normalise and validate a UPC-A / EAN-13 / GTIN-14 barcode.
///
/// Leading zeros lost by a spreadsheet (a UPC-A read as the number 36000291452) are restored
/// by left-padding to 12 digits, then 13, taking the first length whose check digit holds.
pub fn parse_upc(text: &str) -> Result<String, IdError> {
    let trimmed = text.trim();
    if is_scientific_notation(trimmed) {
        return Err(IdError::Format(format!(
            "UPC '{trimmed}' was turned into scientific notation; its digits are lost"
        )));
    }
    let digits: String = trimmed.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    let digits = digits.strip_suffix(".0").unwrap_or(&digits).to_string();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(IdError::Format(format!("UPC/EAN '{trimmed}' is not all digits")));
    }
    if digits.len() > 14 {
        return Err(IdError::Format(format!("UPC/EAN '{trimmed}' has more than 14 digits")));
    }
    let mut last_err = None;
    for len in [12usize, 13, 14] {
        if digits.len() > len {
            continue;
        }
        if digits.len() < 8 {
            return Err(IdError::Format(format!("UPC/EAN '{trimmed}' has fewer than 8 digits")));
        }
        let padded = format!("{digits:0>len$}");
        let nums: Vec<u32> = padded.chars().filter_map(|c| c.to_digit(10)).collect();
        let (data, check) = nums.split_at(len - 1);
        let expected = gtin_check_digit(data);
        if expected == check[0] {
            return Ok(padded);
        }
        last_err.get_or_insert(IdError::CheckDigit { expected, found: check[0] });
        if digits.len() == len {
            break;
        }
    }
    Err(last_err.unwrap_or_else(|| IdError::Format(format!("UPC/EAN '{trimmed}' is invalid"))))
}

/// A barcode as GTIN-14, for comparing a UPC-A with the same product's EAN-13.
pub fn gtin14(upc: &str) -> String {
    format!("{upc:0>14}")
}

/// Normalise and validate an ISWC; returns `T` + 10 digits.
pub fn parse_iswc(text: &str) -> Result<String, IdError> {
    let code: String = text
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' '))
        .collect();
    let digits = code.strip_prefix('T').filter(|d| d.len() == 10 && d.chars().all(|c| c.is_ascii_digit()));
    let Some(digits) = digits else {
        return Err(IdError::Format(format!("ISWC '{}' is not T followed by 10 digits", text.trim())));
    };
    let nums: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = 1 + nums[..9].iter().enumerate().map(|(i, d)| (i as u32 + 1) * d).sum::<u32>();
    let expected = (10 - sum % 10) % 10;
    if expected != nums[9] {
        return Err(IdError::CheckDigit { expected, found: nums[9] });
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrc_normalises_display_forms() {
        assert_eq!(parse_isrc("US-SM1-98-03037").unwrap(), "USSM19803037");
        assert_eq!(parse_isrc("ISRC usrh10903879").unwrap(), "USRH10903879");
        assert!(parse_isrc("USSM1980303").is_err());
        assert!(parse_isrc("12SM19803037").is_err());
        // Texts the byte-by-byte path sees: a plain code, and look-alikes it must leave to the
        // general path (an "ISRC" prefix, lower case, a letter among the last seven).
        assert_eq!(parse_isrc("GBBEN2400001").unwrap(), "GBBEN2400001");
        for t in ["GBBEN2400001", "gbben2400001", "US-SM1-98-03037", "ISRC12345678", "GBBEN240000X", " GBBEN2400001"] {
            assert_eq!(isrc_text(t).ok().map(|c| c.to_string()), parse_isrc(t).ok(), "{t}");
        }
        assert!(parse_isrc("ISRC12345678").is_err());
        assert_eq!(parse_isrc("gbben2400001").unwrap(), "GBBEN2400001");
        assert!(parse_isrc("GBBEN240000X").is_err());
    }

    #[test]
    fn upc_check_digits_from_domain_doc() {
        assert_eq!(parse_upc("7622200004607").unwrap(), "7622200004607");
        assert_eq!(parse_upc("036000291452").unwrap(), "036000291452");
        // Leading zero lost in a numeric cell is restored.
        assert_eq!(parse_upc("36000291452").unwrap(), "036000291452");
        assert_eq!(
            parse_upc("036000291453"),
            Err(IdError::CheckDigit { expected: 2, found: 3 })
        );
        assert!(parse_upc("3.60003E+10").is_err());
        assert_eq!(gtin14("036000291452"), "00036000291452");
    }

    #[test]
    fn iswc_check_digits_from_domain_doc() {
        for ok in ["T-034.524.680-1", "T-071.464.731-0", "T-001.872.939-9", "T-800.237.810-2"] {
            assert!(parse_iswc(ok).is_ok(), "{ok}");
        }
        assert_eq!(parse_iswc("T0345246801").unwrap(), "T0345246801");
        assert!(matches!(parse_iswc("T-034.524.680-2"), Err(IdError::CheckDigit { .. })));
        assert!(parse_iswc("T9109247316").is_ok());
    }

    #[test]
    fn detects_scientific_notation() {
        assert!(is_scientific_notation("1.23457E+11"));
        assert!(is_scientific_notation("1,23457E+11"));
        assert!(!is_scientific_notation("123457000000"));
        for t in ["1E5", "-1e-5", " +12.5E+03 ", "1,5e7"] {
            assert!(is_scientific_notation(t), "{t}");
        }
        for t in ["", "E5", "1E", "1.E5", ".5E5", "1.5", "1e5x", "1e+-5", "--1e5", "1.2.3e4", "USRC1E234567", "1e 5"] {
            assert!(!is_scientific_notation(t), "{t}");
        }
    }

    proptest::proptest! {
        /// The hand-written reading agrees with the pattern it stands for.
        #[test]
        fn scientific_notation_agrees_with_its_pattern(text in "[ +\\-0-9.,eEx]{0,12}") {
            let pattern = Regex::new(r"^[+-]?[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+$").unwrap();
            proptest::prop_assert_eq!(is_scientific_notation(&text), pattern.is_match(text.trim()), "{:?}", text);
        }
    }
}
