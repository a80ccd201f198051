//! Territories (domain.md §7.4): ISO 3166-1 alpha-2 inside the ledger. Alpha-3, numeric codes
//! and English names are mapped to alpha-2; the non-ISO codes seen in music data (`UK`, `EL`)
//! are mapped to their ISO codes; `XK` (Kosovo) is kept; worldwide markers are a value of
//! their own, never a country.

use isocountry::CountryCode;
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Territory {
    /// An ISO 3166-1 alpha-2 code (or `XK`): two ASCII capital letters (in a line without
    /// an allocation; ordered as the code's text).
    Country([u8; 2]),
    /// Worldwide / multi-territory (`WW`, `ZZ`, `XW`, "World").
    Worldwide,
}

impl Territory {
    pub fn code(&self) -> &str {
        match self {
            // Always two ASCII letters (see `country`).
            Territory::Country(c) => std::str::from_utf8(c).unwrap_or("??"),
            Territory::Worldwide => "WW",
        }
    }

    /// The country of a two-letter code as the tables above give it.
    fn country(code: &str) -> Territory {
        match code.as_bytes() {
            [a, b] => Territory::Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]),
            _ => Territory::Country(*b"??"),
        }
    }

    /// Parse a territory as written in a statement. `None` when the text names no territory
    /// this tool knows (the caller keeps the raw text and flags it).
    pub fn parse(text: &str) -> Option<Territory> {
        let t = text.trim();
        // Codes are nearly always written in capitals: upper-cased (a new text) only when not.
        let upper = if t.bytes().any(|b| b.is_ascii_lowercase()) { std::borrow::Cow::Owned(t.to_ascii_uppercase()) } else { std::borrow::Cow::Borrowed(t) };
        match upper.as_ref() {
            "WW" | "ZZ" | "XW" | "WORLD" | "WORLDWIDE" | "ALL" | "ROW-WW" => {
                return Some(Territory::Worldwide);
            }
            "UK" => return Some(Territory::country("GB")),
            "EL" => return Some(Territory::country("GR")),
            "XK" | "XKX" => return Some(Territory::country("XK")),
            _ => {}
        }
        let found = match upper.len() {
            2 => alpha2(&upper),
            3 if upper.chars().all(|c| c.is_ascii_digit()) => {
                upper.parse::<u32>().ok().and_then(|n| CountryCode::for_id(n).ok()).map(|c| c.alpha2())
            }
            3 => CountryCode::for_alpha3(&upper).ok().map(|c| c.alpha2()),
            _ => None,
        };
        if let Some(code) = found {
            return Some(Territory::country(code));
        }
        by_name(t).map(Territory::country)
    }
}

/// The ISO code a two-letter text is, read through a table of every pair of capital letters
/// (`AA` to `ZZ`) worked out once from the ISO table: a report names a territory on every
/// row, and the ISO table is searched text by text. (ISO codes are capital letters: no other
/// two-letter text is one.)
fn alpha2(text: &str) -> Option<&'static str> {
    static CODES: std::sync::OnceLock<[Option<&'static str>; 26 * 26]> = std::sync::OnceLock::new();
    let [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] = text.as_bytes() else { return None };
    let codes = CODES.get_or_init(|| {
        let mut codes = [None; 26 * 26];
        for (i, code) in codes.iter_mut().enumerate() {
            let pair = [b'A' + (i / 26) as u8, b'A' + (i % 26) as u8];
            *code = std::str::from_utf8(&pair).ok().and_then(|p| CountryCode::for_alpha2(p).ok()).map(|c| c.alpha2());
        }
        codes
    });
    codes[usize::from(a - b'A') * 26 + usize::from(b - b'A')]
}

fn by_name(name: &str) -> Option<&'static str> {
    let key = name.trim().to_lowercase();
    const ALIASES: &[(&str, &str)] = &[
        ("united states", "US"),
        ("usa", "US"),
        ("u.s.", "US"),
        ("united kingdom", "GB"),
        ("great britain", "GB"),
        ("russia", "RU"),
        ("south korea", "KR"),
        ("korea", "KR"),
        ("vietnam", "VN"),
        ("taiwan", "TW"),
        ("czech republic", "CZ"),
        ("iran", "IR"),
        ("bolivia", "BO"),
        ("venezuela", "VE"),
        ("tanzania", "TZ"),
        ("moldova", "MD"),
        ("laos", "LA"),
        ("syria", "SY"),
        ("kosovo", "XK"),
        ("turkey", "TR"),
    ];
    if let Some((_, code)) = ALIASES.iter().find(|(n, _)| *n == key) {
        return Some(code);
    }
    CountryCode::iter()
        .find(|c| c.name().to_lowercase() == key)
        .map(|c| c.alpha2())
}

impl fmt::Display for Territory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Territory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(t: &str) -> Option<String> {
        Territory::parse(t).map(|t| t.code().to_string())
    }

    #[test]
    fn maps_music_data_codes() {
        assert_eq!(code("UK").as_deref(), Some("GB"));
        assert_eq!(code("gb").as_deref(), Some("GB"));
        assert_eq!(code("DEU").as_deref(), Some("DE"));
        assert_eq!(code("840").as_deref(), Some("US"));
        assert_eq!(code("EL").as_deref(), Some("GR"));
        assert_eq!(code("XK").as_deref(), Some("XK"));
        assert_eq!(code("United States").as_deref(), Some("US"));
        assert_eq!(code("Germany").as_deref(), Some("DE"));
        assert_eq!(Territory::parse("World"), Some(Territory::Worldwide));
        assert_eq!(code("QQ"), None);
        assert_eq!(code("Narnia"), None);
    }

    #[test]
    fn two_letters_read_the_same_in_capitals_or_not() {
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let upper = String::from_utf8(vec![a, b]).unwrap_or_default();
                for text in [upper.to_lowercase(), format!("{}{}", upper[..1].to_lowercase(), &upper[1..]), format!(" {upper} ")] {
                    assert_eq!(Territory::parse(&text), Territory::parse(&upper), "{text}");
                }
                // Read through the table of pairs as the ISO table reads it (after the
                // music-data codes, which come first).
                let iso = match upper.as_str() {
                    "WW" | "ZZ" | "XW" => Some(Territory::Worldwide),
                    "UK" => Some(Territory::country("GB")),
                    "EL" => Some(Territory::country("GR")),
                    "XK" => Some(Territory::country("XK")),
                    _ => CountryCode::for_alpha2(&upper).ok().map(|c| Territory::country(c.alpha2())),
                };
                assert_eq!(Territory::parse(&upper), iso, "{upper}");
            }
        }
    }
}
