//! ISO 4217 currencies. The code table and minor units come from the `iso_currency` crate.

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parse an ISO 4217 alphabetic code (case-insensitive, trimmed). A few symbols that
    /// name one currency unambiguously are accepted too (€, £, ¥ is not: JPY or CNY).
    pub fn parse(text: &str) -> Option<Currency> {
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
