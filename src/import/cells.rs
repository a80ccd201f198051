//! Cell text to typed values: exact decimals in every notation statements use, dates and
//! periods. Nothing here guesses: an ambiguous value is an error the caller turns into a
//! rejected row with the reason.

use std::str::FromStr;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;

use crate::ledger::Period;

/// How a statement writes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    /// `.` or `,`.
    pub decimal: char,
}

impl NumberFormat {
    /// The decimal separator as the byte the plain-number readers look for.
    pub fn decimal_byte(self) -> u8 {
        if self.decimal == ',' { b',' } else { b'.' }
    }
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat { decimal: '.' }
    }
}

const CURRENCY_SYMBOLS: &[&str] = &["US$", "R$", "A$", "C$", "NZ$", "$", "€", "£", "¥", "₩", "₹", "₽", "₺"];
const GROUP_SPACES: &[char] = &[' ', '\u{a0}', '\u{202f}', '\u{2009}', '\''];

/// Parse a money or quantity cell exactly.
///
/// Accepts `1234.56`, `1,234.56`, `1.234,56` (with `decimal = ','`), `(1.23)`, `1.23-`,
/// `−1.23` (Unicode minus), `+1.23`, `$1.23`, `1.23 €`, `12%` (returns 12: the caller decides
/// what a percent means), and up to 28 decimals. Thousands separators must group by three.
pub fn parse_decimal(text: &str, fmt: NumberFormat) -> Result<Decimal, String> {
    let original = text;
    let mut s = text.trim().to_string();
    if s.is_empty() {
        return Err("empty number".into());
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].trim().to_string();
    }
    for sym in CURRENCY_SYMBOLS {
        if let Some(rest) = s.strip_prefix(sym) {
            s = rest.trim_start().to_string();
        } else if let Some(rest) = s.strip_suffix(sym) {
            s = rest.trim_end().to_string();
        }
    }
    if let Some(rest) = s.strip_suffix('%') {
        s = rest.trim_end().to_string();
    }
    let sign_chars = ['-', '\u{2212}', '\u{2013}', '+'];
    if let Some(c) = s.chars().next().filter(|c| sign_chars.contains(c)) {
        if c != '+' {
            negative = !negative;
        }
        s = s[c.len_utf8()..].trim_start().to_string();
        // "$-1.23" and "-$1.23" both occur.
        for sym in CURRENCY_SYMBOLS {
            if let Some(rest) = s.strip_prefix(sym) {
                s = rest.to_string();
            }
        }
    } else if let Some(c) = s.chars().last().filter(|c| sign_chars.contains(c) && *c != '+') {
        let _ = c;
        negative = !negative;
        s = s[..s.len() - c.len_utf8()].trim_end().to_string();
    }
    if s.is_empty() {
        return Err(format!("'{}' is not a number", original.trim()));
    }
    let (int_part, frac_part) = match s.rfind(fmt.decimal) {
        Some(i) => (&s[..i], Some(&s[i + fmt.decimal.len_utf8()..])),
        None => (s.as_str(), None),
    };
    let group_seps: Vec<char> = if fmt.decimal == '.' {
        let mut v = vec![','];
        v.extend_from_slice(GROUP_SPACES);
        v
    } else {
        let mut v = vec!['.'];
        v.extend_from_slice(GROUP_SPACES);
        v
    };
    let int_digits = strip_groups(int_part, &group_seps)
        .ok_or_else(|| format!("'{}' is not a number (misplaced separators)", original.trim()))?;
    let frac_digits = match frac_part {
        Some(f) if f.chars().all(|c| c.is_ascii_digit()) && !f.is_empty() => f,
        Some(f) if f.is_empty() && !int_digits.is_empty() => "",
        Some(_) => return Err(format!("'{}' is not a number", original.trim())),
        None => "",
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(format!("'{}' is not a number", original.trim()));
    }
    if frac_digits.len() > 28 {
        return Err(format!("'{}' has more than 28 decimals", original.trim()));
    }
    let canonical = if frac_digits.is_empty() {
        int_digits
    } else {
        format!("{}.{}", if int_digits.is_empty() { "0" } else { &int_digits }, frac_digits)
    };
    let mut d = Decimal::from_str(&canonical)
        .map_err(|_| format!("'{}' is out of the exact decimal range", original.trim()))?;
    if negative {
        d.set_sign_negative(true);
    }
    Ok(d)
}

/// Remove thousands separators, checking that they group digits by three.
fn strip_groups(int_part: &str, seps: &[char]) -> Option<String> {
    if int_part.chars().all(|c| c.is_ascii_digit()) {
        return Some(int_part.to_string());
    }
    let sep = int_part.chars().find(|c| !c.is_ascii_digit())?;
    if !seps.contains(&sep) {
        return None;
    }
    let groups: Vec<&str> = int_part.split(sep).collect();
    let first_ok = !groups[0].is_empty() && groups[0].len() <= 3;
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    let all_digits = groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
    (first_ok && rest_ok && all_digits).then(|| groups.concat())
}

/// Render a decimal with at least `min_scale` decimals and never fewer than it has.
pub fn fmt_decimal(d: Decimal, min_scale: u32) -> String {
    let mut d = d.normalize();
    if d.scale() < min_scale {
        d.rescale(min_scale);
    }
    d.to_string()
}

static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$").expect("static regex"));
static COMPACT_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})(\d{2})(\d{2})$").expect("static regex"));
static SLASH_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$").expect("static regex"));

/// Excel serial day number to a date, in the 1900 or 1904 date system.
pub fn excel_serial_date(serial: Decimal, date_1904: bool) -> Result<NaiveDate, String> {
    let days = serial.trunc();
    let lo = Decimal::ONE;
    let hi = Decimal::from(2_958_465);
    if days < lo || days > hi {
        return Err(format!("{serial} is not an Excel date serial"));
    }
    let n: i64 = days.try_into().map_err(|_| format!("{serial} is not an Excel date serial"))?;
    // The 1900 system counts from 1899-12-31 with the phantom 1900-02-29 (serial 60);
    // serials after it are counted from 1899-12-30.
    let (epoch, n) = if date_1904 {
        (NaiveDate::from_ymd_opt(1904, 1, 1), n)
    } else if n < 60 {
        (NaiveDate::from_ymd_opt(1899, 12, 31), n)
    } else if n == 60 {
        return Err("serial 60 is 1900-02-29, a date that does not exist".into());
    } else {
        (NaiveDate::from_ymd_opt(1899, 12, 30), n)
    };
    epoch
        .and_then(|e| e.checked_add_days(chrono::Days::new(n as u64)))
        .ok_or_else(|| format!("{serial} is not an Excel date serial"))
}

/// Parse a date written as text. With `format` (a chrono format string) only that format
/// is accepted. Without, ISO dates and `YYYYMMDD` are read; `dd/mm/yyyy`-style dates are read
/// only when the order is certain (one part above 12); `03/04/2024` is an error.
pub fn parse_date(text: &str, format: Option<&str>) -> Result<NaiveDate, String> {
    let t = text.trim();
    if let Some(f) = format {
        return NaiveDate::parse_from_str(t, f)
            .map_err(|_| format!("date '{t}' does not match the profile's format '{f}'"));
    }
    let ymd = |y: &str, m: &str, d: &str| -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    };
    if let Some(c) = ISO_DATE.captures(t).or_else(|| COMPACT_DATE.captures(t)) {
        return ymd(&c[1], &c[2], &c[3]).ok_or_else(|| format!("'{t}' is not a valid date"));
    }
    if let Some(c) = SLASH_DATE.captures(t) {
        let a: u32 = c[1].parse().unwrap_or(0);
        let b: u32 = c[2].parse().unwrap_or(0);
        return match (a > 12, b > 12) {
            (true, false) => ymd(&c[3], &c[2], &c[1]),
            (false, true) => ymd(&c[3], &c[1], &c[2]),
            _ if a == b => ymd(&c[3], &c[2], &c[1]),
            _ => {
                return Err(format!(
                    "date '{t}' is ambiguous (day/month or month/day); set a date format in the profile"
                ));
            }
        }
        .ok_or_else(|| format!("'{t}' is not a valid date"));
    }
    Err(format!("'{t}' is not a date this profile can read"))
}

static MONTH_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})[-/.]?(\d{2})$").expect("static regex"));
static MONTH_YEAR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,2})[-/.](\d{4})$").expect("static regex"));
static QUARTER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(\d{4})\s*[-/ ]?\s*Q([1-4])|Q([1-4])\s*[-/ ]?\s*(\d{4}))$").expect("static regex")
});
static HALF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(\d{4})\s*[-/ ]?\s*H([12])|H([12])\s*[-/ ]?\s*(\d{4}))$").expect("static regex")
});
static YEAR_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4})$").expect("static regex"));
static NAMED_MONTH_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^([a-z]{3,9})\.?[\s,-]+(\d{4})$").expect("static regex")
});
static RANGE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(.+?)\s*(?:\.\.|\bto\b|\s[-–]\s|–)\s*(.+)$").expect("static regex")
});

fn month_number(name: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_lowercase();
    let full = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december",
    ];
    if let Some(i) = full.iter().position(|f| *f == lower) {
        return Some(i as u32 + 1);
    }
    let key = if lower == "sept" { "sep".to_string() } else { lower };
    NAMES.iter().position(|n| *n == key).map(|i| i as u32 + 1)
}

/// Parse a period: `2024-03`, `202403`, `03/2024`, `Mar 2024`, `2024-Q1`, `Q1 2024`,
/// `2024H2`, `H2 2024`, `2024`, a date (a one-day period), or a range `A - B` / `A to B` /
/// `A..B` of dates. With `format`, the text is first tried as a date in that format.
pub fn parse_period(text: &str, format: Option<&str>) -> Result<Period, String> {
    let t = text.trim();
    let bad = || format!("'{t}' is not a period this profile can read");
    if let Some(f) = format {
        // A month format such as %Y-%m has no day: chrono needs one to build a date.
        if !f.contains("%d") && !f.contains("%e") && !f.contains("%j") {
            let d = NaiveDate::parse_from_str(&format!("{t} 01"), &format!("{f} %d"))
                .map_err(|_| format!("period '{t}' does not match the profile's format '{f}'"))?;
            return Period::month_of(d).ok_or_else(bad);
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return Ok(Period::day(d));
        }
    }
    if let Some(c) = MONTH_RE.captures(t) {
        return Period::month(c[1].parse().map_err(|_| bad())?, c[2].parse().map_err(|_| bad())?)
            .ok_or_else(bad);
    }
    if let Some(c) = MONTH_YEAR_RE.captures(t) {
        return Period::month(c[2].parse().map_err(|_| bad())?, c[1].parse().map_err(|_| bad())?)
            .ok_or_else(bad);
    }
    if let Some(c) = QUARTER_RE.captures(t) {
        let (y, q) = match (c.get(1), c.get(2)) {
            (Some(y), Some(q)) => (y.as_str(), q.as_str()),
            _ => (&c[4], &c[3]),
        };
        return Period::quarter(y.parse().map_err(|_| bad())?, q.parse().map_err(|_| bad())?)
            .ok_or_else(bad);
    }
    if let Some(c) = HALF_RE.captures(t) {
        let (y, h) = match (c.get(1), c.get(2)) {
            (Some(y), Some(h)) => (y.as_str(), h.as_str()),
            _ => (&c[4], &c[3]),
        };
        return Period::half(y.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?)
            .ok_or_else(bad);
    }
    if let Some(c) = YEAR_RE.captures(t) {
        return Period::year(c[1].parse().map_err(|_| bad())?).ok_or_else(bad);
    }
    if let Some(c) = NAMED_MONTH_RE.captures(t)
        && let Some(m) = month_number(&c[1])
    {
        return Period::month(c[2].parse().map_err(|_| bad())?, m).ok_or_else(bad);
    }
    if let Ok(d) = parse_date(t, None) {
        return Ok(Period::day(d));
    }
    if let Some(c) = RANGE_RE.captures(t) {
        let a = parse_date(&c[1], format).or_else(|e| {
            if format.is_some() { parse_date(&c[1], None) } else { Err(e) }
        })?;
        let b = parse_date(&c[2], format).or_else(|e| {
            if format.is_some() { parse_date(&c[2], None) } else { Err(e) }
        })?;
        return Period::range(a, b).ok_or_else(|| format!("period '{t}' ends before it starts"));
    }
    // An ambiguous slash date gives its own, clearer reason.
    parse_date(t, None).map(Period::day).map_err(|e| if e.contains("ambiguous") { e } else { bad() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    const DOT: NumberFormat = NumberFormat { decimal: '.' };
    const COMMA: NumberFormat = NumberFormat { decimal: ',' };

    #[test]
    fn number_notations() {
        assert_eq!(parse_decimal("1,234.56", DOT).unwrap(), dec("1234.56"));
        assert_eq!(parse_decimal("1.234,56", COMMA).unwrap(), dec("1234.56"));
        assert_eq!(parse_decimal("1 234,56", COMMA).unwrap(), dec("1234.56"));
        assert_eq!(parse_decimal("0,5", COMMA).unwrap(), dec("0.5"));
        assert_eq!(parse_decimal("(1.23)", DOT).unwrap(), dec("-1.23"));
        assert_eq!(parse_decimal("1.23-", DOT).unwrap(), dec("-1.23"));
        assert_eq!(parse_decimal("\u{2212}1.23", DOT).unwrap(), dec("-1.23"));
        assert_eq!(parse_decimal("$1,000.00", DOT).unwrap(), dec("1000.00"));
        assert_eq!(parse_decimal("-$5.00", DOT).unwrap(), dec("-5.00"));
        assert_eq!(parse_decimal("12,50 €", COMMA).unwrap(), dec("12.50"));
        assert_eq!(parse_decimal("($1.50)", DOT).unwrap(), dec("-1.50"));
        assert_eq!(parse_decimal("15%", DOT).unwrap(), dec("15"));
        assert_eq!(parse_decimal(".5", DOT).unwrap(), dec("0.5"));
        assert_eq!(
            parse_decimal("0.000123456789012", DOT).unwrap().to_string(),
            "0.000123456789012"
        );
        assert!(parse_decimal("1,23", DOT).is_err());
        assert!(parse_decimal("12abc", DOT).is_err());
        assert!(parse_decimal("-", DOT).is_err());
        assert!(parse_decimal("1.2.3", DOT).is_err());
        assert!(parse_decimal("", DOT).is_err());
        assert!(parse_decimal("1E+5", DOT).is_err());
    }

    #[test]
    fn decimal_rendering_keeps_precision() {
        assert_eq!(fmt_decimal(dec("123.45"), 10), "123.4500000000");
        assert_eq!(fmt_decimal(dec("0.000000000001"), 10), "0.000000000001");
        assert_eq!(fmt_decimal(dec("5"), 0), "5");
    }

    #[test]
    fn excel_serials_both_systems() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(excel_serial_date(dec("45292"), false).unwrap(), d(2024, 1, 1));
        assert_eq!(excel_serial_date(dec("43830"), true).unwrap(), d(2024, 1, 1));
        assert_eq!(excel_serial_date(dec("1"), false).unwrap(), d(1900, 1, 1));
        assert_eq!(excel_serial_date(dec("61"), false).unwrap(), d(1900, 3, 1));
        assert!(excel_serial_date(dec("60"), false).is_err());
        assert!(excel_serial_date(dec("0"), false).is_err());
    }

    #[test]
    fn dates_without_guessing() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(parse_date("2024-03-04", None).unwrap(), d(2024, 3, 4));
        assert_eq!(parse_date("20240304", None).unwrap(), d(2024, 3, 4));
        assert_eq!(parse_date("25/04/2024", None).unwrap(), d(2024, 4, 25));
        assert!(parse_date("03/04/2024", None).unwrap_err().contains("ambiguous"));
        assert_eq!(parse_date("03/04/2024", Some("%d/%m/%Y")).unwrap(), d(2024, 4, 3));
        assert_eq!(parse_date("03/04/2024", Some("%m/%d/%Y")).unwrap(), d(2024, 3, 4));
        assert!(parse_date("2024-02-30", None).is_err());
    }

    #[test]
    fn periods() {
        let p = |s: &str| parse_period(s, None).unwrap().to_string();
        assert_eq!(p("2024-03"), "2024-03");
        assert_eq!(p("202403"), "2024-03");
        assert_eq!(p("03/2024"), "2024-03");
        assert_eq!(p("Mar 2024"), "2024-03");
        assert_eq!(p("September 2024"), "2024-09");
        assert_eq!(p("Q1 2024"), "2024-Q1");
        assert_eq!(p("2024-Q4"), "2024-Q4");
        assert_eq!(p("H2 2024"), "2024-H2");
        assert_eq!(p("2024"), "2024");
        assert_eq!(p("2024-01-01 - 2024-06-30"), "2024-H1");
        assert_eq!(p("2024-01-01 to 2024-01-31"), "2024-01");
        assert_eq!(p("2024-03-15"), "2024-03-15");
        assert_eq!(parse_period("2024/03", Some("%Y/%m")).unwrap().to_string(), "2024-03");
        assert!(parse_period("03/04/2024", None).unwrap_err().contains("ambiguous"));
        assert!(parse_period("soon", None).is_err());
    }
}
