//! Reference exchange rates (domain.md §5.5): ECB-style mid rates, one per currency and
//! publication date, quoted as units of the currency per 1 EUR. Cross rates go through EUR.
//! File format: CSV with a header `date,currency,per_eur` (ISO dates, exact decimals).

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::ledger::{Currency, Period};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FxTable {
    /// Shown in findings ("fx/ecb.csv").
    pub source: String,
    /// currency code → date → units per EUR.
    rates: BTreeMap<String, BTreeMap<NaiveDate, Decimal>>,
}

impl FxTable {
    pub fn load(path: &Path) -> Result<FxTable, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        FxTable::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, source: &str) -> Result<FxTable, String> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| format!("{source}: {e}"))?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("{source}: no '{name}' column (expected date,currency,per_eur)"))
        };
        let (d, c, r) = (col("date")?, col("currency")?, col("per_eur")?);
        let mut table = FxTable { source: source.to_string(), rates: BTreeMap::new() };
        for (i, rec) in reader.records().enumerate() {
            let row = i + 2;
            let rec = rec.map_err(|e| format!("{source}:{row}: {e}"))?;
            let date = NaiveDate::parse_from_str(rec.get(d).unwrap_or(""), "%Y-%m-%d")
                .map_err(|_| format!("{source}:{row}: date '{}' is not YYYY-MM-DD", rec.get(d).unwrap_or("")))?;
            let cur = rec.get(c).unwrap_or("");
            let cur = Currency::parse(cur).ok_or_else(|| format!("{source}:{row}: '{cur}' is not an ISO 4217 currency"))?;
            let rate_text = rec.get(r).unwrap_or("");
            let rate = Decimal::from_str(rate_text)
                .ok()
                .filter(|v| *v > Decimal::ZERO)
                .ok_or_else(|| format!("{source}:{row}: per_eur '{rate_text}' is not a positive decimal"))?;
            table.rates.entry(cur.code().to_string()).or_default().insert(date, rate);
        }
        Ok(table)
    }

    fn per_eur_on(&self, cur: Currency, date: NaiveDate) -> Option<Decimal> {
        if cur.code() == "EUR" {
            return Some(Decimal::ONE);
        }
        self.rates.get(cur.code())?.range(..=date).next_back().map(|(_, r)| *r)
    }

    fn per_eur_average(&self, cur: Currency, period: &Period) -> Option<Decimal> {
        if cur.code() == "EUR" {
            return Some(Decimal::ONE);
        }
        let in_period: Vec<Decimal> =
            self.rates.get(cur.code())?.range(period.start..=period.end).map(|(_, r)| *r).collect();
        if in_period.is_empty() {
            return None;
        }
        Some(in_period.iter().sum::<Decimal>() / Decimal::from(in_period.len()))
    }

    /// Units of `to` per unit of `from` on a date (last publication on or before it).
    pub fn rate_on(&self, from: Currency, to: Currency, date: NaiveDate) -> Option<Decimal> {
        Some(self.per_eur_on(to, date)? / self.per_eur_on(from, date)?)
    }

    /// Units of `to` per unit of `from`, averaged over a period's publications.
    pub fn rate_average(&self, from: Currency, to: Currency, period: &Period) -> Option<Decimal> {
        Some(self.per_eur_average(to, period)? / self.per_eur_average(from, period)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_rates_through_eur() {
        let t = FxTable::parse("date,currency,per_eur\n2024-01-31,USD,1.0800\n2024-01-31,GBP,0.8500\n2024-01-15,USD,1.1000\n", "x").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let gbp = Currency::parse("GBP").unwrap();
        let d = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
        // USD per GBP = (USD per EUR) / (GBP per EUR)
        assert_eq!(t.rate_on(gbp, usd, d).unwrap().round_dp(6).to_string(), "1.270588");
        let jan = Period::month(2024, 1).unwrap();
        assert_eq!(t.per_eur_average(usd, &jan).unwrap().to_string(), "1.0900");
        assert!(t.rate_on(gbp, usd, NaiveDate::from_ymd_opt(2023, 1, 1).unwrap()).is_none());
        assert!(FxTable::parse("date,currency,per_eur\n2024-13-01,USD,1\n", "x").unwrap_err().contains("x:2"));
    }
}
