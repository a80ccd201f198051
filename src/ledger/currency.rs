//! ISO 4217 currencies. The code table and minor units come from the `iso_currency` crate.

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parse an ISO 4217 alphabetic code (case-insensitive, trimmed). A few symbols that
    /// name one currency unambiguously are accepted too (€, £, ¥ is not: JPY or CNY).
    pub fn parse(text: &str) -> Option<Currency> {
        // Statements repeat one or two codes on every row: the last code read is kept per
        // thread (looking a code up in the ISO table costs string comparisons).
        thread_local! {
            static LAST: std::cell::Cell<Option<([u8; 3], Currency)>> = const { std::cell::Cell::new(None) };
        }
        let key: Option<[u8; 3]> = text.as_bytes().try_into().ok().filter(|k: &[u8; 3]| k.iter().all(u8::is_ascii_uppercase));
        if let Some(k) = key {
            if let Some((last, c)) = LAST.get()
                && last == k
            {
                return Some(c);
            }
            let found = Self::parse_uncached(text);
            if let Some(c) = found {
                LAST.set(Some((k, c)));
            }
            return found;
        }
        Self::parse_uncached(text)
    }

    fn parse_uncached(text: &str) -> Option<Currency> {
        let t = text.trim();
        let code = match t {
            "€" => "EUR",
            "£" => "GBP",
            "US$" => "USD",
            _ => t,
        };
        iso_currency::Currency::from_code(&code.to_ascii_uppercase()).map(Currency)
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Number of decimals of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn minor_units(&self) -> u32 {
        self.0.exponent().map(u32::from).unwrap_or(2)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_minor_units() {
        assert_eq!(Currency::parse(" usd ").unwrap().code(), "USD");
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::parse("€").unwrap().code(), "EUR");
        assert!(Currency::parse("XYZ").is_none());
        assert!(Currency::parse("$").is_none());
    }
}
