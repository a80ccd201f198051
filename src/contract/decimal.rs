//! Exact decimals in contract files. A value may be written as a string (`"18.5"`), an
//! integer (`18`) or a TOML float (`18.5`); a float is taken by its shortest decimal text,
//! which is what was typed for anything up to 15 significant digits.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number (\"12.50\", 12 or 12.5)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        let t = v.trim().replace('_', "");
        let t = t.strip_suffix('%').unwrap_or(&t).trim();
        Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| E::custom(format!("'{v}' is not a decimal number")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::custom("not a finite number"));
        }
        self.visit_str(&format!("{v}"))
    }
}

pub fn de_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

pub fn de_opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    d.deserialize_any(DecimalVisitor).map(Some)
}

struct MapVisitor;

impl<'de> Visitor<'de> for MapVisitor {
    type Value = BTreeMap<String, Decimal>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table of names to decimal numbers")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<DecimalSeed>()?;
            out.insert(key, value.0);
        }
        Ok(out)
    }
}

struct DecimalSeed(Decimal);

impl<'de> serde::Deserialize<'de> for DecimalSeed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DecimalVisitor).map(DecimalSeed)
    }
}

pub fn de_decimal_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Decimal>, D::Error> {
    d.deserialize_map(MapVisitor)
}

/// A date written as a TOML date (`2024-01-31`) or a string (`"2024-01-31"`).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum DateRepr {
    Toml(toml::value::Datetime),
    Text(String),
}

fn to_date<E: de::Error>(r: DateRepr) -> Result<chrono::NaiveDate, E> {
    match r {
        DateRepr::Toml(dt) => match (dt.date, dt.time) {
            (Some(d), None) => chrono::NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                .ok_or_else(|| E::custom(format!("{dt} is not a calendar date"))),
            _ => Err(E::custom(format!("expected a date (YYYY-MM-DD), found {dt}"))),
        },
        DateRepr::Text(t) => chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").map_err(|_| E::custom(format!("'{t}' is not a date (YYYY-MM-DD)"))),
    }
}

pub fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::NaiveDate, D::Error> {
    to_date(<DateRepr as serde::Deserialize>::deserialize(d)?)
}

pub fn de_opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<chrono::NaiveDate>, D::Error> {
    to_date(<DateRepr as serde::Deserialize>::deserialize(d)?).map(Some)
}
