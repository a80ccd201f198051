//! The contract terms as written in `rules/contracts/*.toml` (docs/contracts.md is the
//! reference). Percentages are written as percent numbers ("18" = 18%) and kept as written;
//! [`pct`] turns one into a fraction where arithmetic needs it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::decimal::{de_date, de_decimal, de_decimal_map, de_opt_date, de_opt_decimal};

/// A percent number as a fraction: 18 → 0.18.
pub fn pct(p: Decimal) -> Decimal {
    p / Decimal::ONE_HUNDRED
}

/// `a × b` as `Decimal` multiplication gives it, without multiplying when `b` is exactly
/// one at scale 0, as a territory factor of 100% and the proration of a track nearly always
/// are: the product is then `a` itself (same digits and scale), or `0` at scale 0 when `a`
/// is zero. (Each line's recomputation multiplies by them about six times.)
#[inline]
pub fn times(a: Decimal, b: Decimal) -> Decimal {
    if b.scale() == 0 && b == Decimal::ONE {
        if a.is_zero() { Decimal::ZERO } else { a }
    } else {
        a * b
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    pub contract: Header,
    #[serde(default)]
    pub territories: Territories,
    #[serde(default)]
    pub accounts: Vec<Spanned<Account>>,
    #[serde(default)]
    pub releases: Vec<Spanned<Release>>,
    #[serde(default)]
    pub tracks: Vec<Spanned<Track>>,
    #[serde(default)]
    pub royalties: Vec<Spanned<RoyaltyTerm>>,
    #[serde(default)]
    pub recoupable: Option<Spanned<Recoupable>>,
    #[serde(default)]
    pub advances: Vec<Spanned<Advance>>,
    #[serde(default)]
    pub cross_collateralisation: Vec<Spanned<CrossEdge>>,
    #[serde(default)]
    pub reserves: Option<Spanned<ReservePolicy>>,
    #[serde(default)]
    pub producers: Vec<Spanned<Producer>>,
    #[serde(default)]
    pub splits: Vec<Spanned<Split>>,
    #[serde(default)]
    pub distribution: Option<Spanned<Distribution>>,
    #[serde(default)]
    pub fx: Option<Spanned<FxPolicy>>,
    #[serde(default, deserialize_with = "de_decimal_map")]
    pub withholding: BTreeMap<String, Decimal>,
    #[serde(default)]
    pub audit: Option<Spanned<AuditClause>>,
    #[serde(default)]
    pub tolerances: Tolerances,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DealKind {
    /// Royalty rates on a base (PPD, retail, net receipts); profit splits are written as a
    /// receipts rate plus recoupable costs at the artist's share (docs/contracts.md).
    #[default]
    Royalty,
    /// A distributor deal: the payee's own distributor statements, commission and splits.
    Distribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accounting {
    Month,
    Quarter,
    Half,
    Year,
}

impl Accounting {
    pub fn months(self) -> u32 {
        match self {
            Accounting::Month => 1,
            Accounting::Quarter => 3,
            Accounting::Half => 6,
            Accounting::Year => 12,
        }
    }

    /// The accounting period (calendar month, quarter, half or year) a date falls in.
    pub fn period_of(self, date: chrono::NaiveDate) -> Option<crate::ledger::Period> {
        use crate::ledger::Period;
        use chrono::Datelike;
        let (y, m) = (date.year(), date.month());
        match self {
            Accounting::Half => Period::half(y, (m - 1) / 6 + 1),
            Accounting::Quarter => Period::quarter(y, (m - 1) / 3 + 1),
            Accounting::Year => Period::year(y),
            Accounting::Month => Period::month(y, m),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub kind: DealKind,
    pub payee: String,
    #[serde(default)]
    pub label: Option<String>,
    pub currency: String,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub start: Option<NaiveDate>,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub end: Option<NaiveDate>,
    #[serde(default)]
    pub accounting: Option<Accounting>,
    #[serde(default)]
    pub statement_due_days: Option<u32>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub minimum_payment: Option<Decimal>,
}

/// Territory groups: `home` and any named groups; every other territory is rest of world.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Territories {
    #[serde(default)]
    pub home: Vec<String>,
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Account numbers as printed on the label's statements.
    #[serde(default)]
    pub statement_accounts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub id: String,
    #[serde(default)]
    pub upc: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub release_date: Option<NaiveDate>,
    #[serde(default)]
    pub account: Option<String>,
    /// Tracks on the product, and how many of them are the artist's (compilation proration).
    #[serde(default)]
    pub tracks: Option<u32>,
    #[serde(default)]
    pub artist_tracks: Option<u32>,
    /// Contractual price category ("full", "mid", "budget"…).
    #[serde(default)]
    pub price_category: Option<String>,
    /// Royalty base price per configuration (e.g. `cd = "10.00"`), in the contract currency.
    #[serde(default, deserialize_with = "de_decimal_map")]
    pub prices: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    pub isrc: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub release_date: Option<NaiveDate>,
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Base {
    /// Published price to dealer (wholesale).
    Ppd,
    /// Suggested retail list price.
    Srlp,
    /// What the label received for the line.
    NetReceipts,
    /// A fixed notional price per unit (`fixed_price`).
    Fixed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoyaltyTerm {
    #[serde(default)]
    pub id: Option<String>,
    /// The clause in the signed agreement (e.g. "Schedule A §2(b)").
    #[serde(default)]
    pub clause: Option<String>,
    pub income_types: Vec<String>,
    /// Configurations (sale types) this term is limited to, e.g. ["cd"]; empty = all.
    #[serde(default)]
    pub configurations: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub price_categories: Vec<String>,
    pub base: Base,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub fixed_price: Option<Decimal>,
    #[serde(deserialize_with = "de_decimal")]
    pub rate: Decimal,
    /// Percent of the rate per territory group (`home`, a named group, `rest_of_world`).
    #[serde(default, deserialize_with = "de_decimal_map")]
    pub territory_factors: BTreeMap<String, Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub container_pct: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub free_goods_pct: Option<Decimal>,
    /// Whether distribution fees may be deducted from receipts before the rate applies.
    #[serde(default)]
    pub fees_deductible: Option<bool>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub max_fee_pct: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub escalation: Option<Escalation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    #[default]
    PerRelease,
    Cumulative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EscalationMode {
    /// Only units above a threshold earn the higher rate.
    #[default]
    Prospective,
    /// Crossing a threshold lifts every unit from record one to the higher rate.
    Retroactive,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    #[serde(default)]
    pub counting: Counting,
    #[serde(default)]
    pub mode: EscalationMode,
    /// Only units sold in these territory groups count (e.g. ["home"]); empty = all.
    #[serde(default)]
    pub count_territories: Vec<String>,
    /// Streams that count as one unit toward the thresholds (e.g. 1500); streams count
    /// one for one when absent.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub streams_per_unit: Option<Decimal>,
    pub tiers: Vec<Tier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The tier applies to units after this many have been sold.
    #[serde(deserialize_with = "de_decimal")]
    pub from_units: Decimal,
    #[serde(deserialize_with = "de_decimal")]
    pub rate: Decimal,
}

/// Cost kind → percent of the invoice that may be charged to the account.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Recoupable(#[serde(deserialize_with = "de_decimal_map")] pub BTreeMap<String, Decimal>);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    #[serde(default)]
    pub account: Option<String>,
    #[serde(deserialize_with = "de_decimal")]
    pub amount: Decimal,
    #[serde(default)]
    pub description: Option<String>,
}

/// Credits of `credits_of` may absorb debits of `may_recoup`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossEdge {
    pub credits_of: String,
    pub may_recoup: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidation {
    /// Released in equal parts over the next `periods` accounting periods.
    Equal,
    /// Released in full by the end of the `periods`-th period after it was taken.
    Deadline,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservePolicy {
    #[serde(deserialize_with = "de_decimal")]
    pub cap_pct: Decimal,
    pub applies_to: Vec<String>,
    pub liquidation: Liquidation,
    pub periods: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Paid from record one, no recording-cost test (only the producer's own advance).
    RecordOne,
    /// Paid retroactively to record one once recording costs are recouped at the all-in rate.
    RecoupmentCombined,
    /// As above, with the test run at the net artist rate (all-in minus producer points).
    RecoupmentNet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub name: String,
    #[serde(deserialize_with = "de_decimal")]
    pub points: Decimal,
    /// Releases the producer worked on (release ids) …
    #[serde(default)]
    pub releases: Vec<String>,
    /// … and, when not the whole release, the ISRCs produced.
    #[serde(default)]
    pub isrcs: Vec<String>,
    #[serde(default)]
    pub tracks_produced: Option<u32>,
    #[serde(default)]
    pub tracks_total: Option<u32>,
    #[serde(default, deserialize_with = "de_decimal")]
    pub advance: Decimal,
    pub trigger: Trigger,
    /// The recording costs the recoupment test must cover (from the statements when absent).
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub test_costs: Option<Decimal>,
    #[serde(default = "yes")]
    pub test_costs_include_advance: bool,
    /// Points the mixer's royalty takes off this producer's.
    #[serde(default, deserialize_with = "de_decimal")]
    pub mixer_reduction_points: Decimal,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    #[serde(default)]
    pub isrc: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    /// Payee → percent; must sum to 100.
    #[serde(deserialize_with = "de_decimal_map")]
    pub shares: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    #[serde(deserialize_with = "de_decimal")]
    pub commission_pct: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FxBasis {
    /// Average of the reference rates published in the sale month (or sale period).
    #[default]
    SaleMonthAverage,
    /// The last reference rate on or before the end of the accounting period.
    PeriodEnd,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxPolicy {
    /// Reference rates (CSV `date,currency,per_eur`), relative to the contract file.
    pub reference: String,
    #[serde(default)]
    pub basis: FxBasis,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub tolerance_pct: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditClause {
    #[serde(default)]
    pub objection_period_months: Option<u32>,
    #[serde(default)]
    pub lookback_years: Option<u32>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_shift_threshold_pct: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub interest_rate_pct: Option<Decimal>,
    /// How many months after the sale month a line may reach the label statement.
    #[serde(default)]
    pub lag_months: Option<u32>,
    #[serde(default, deserialize_with = "de_opt_date")]
    pub claim_date: Option<NaiveDate>,
    #[serde(default)]
    pub previous: Vec<PreviousAudit>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousAudit {
    #[serde(deserialize_with = "de_date")]
    pub date: NaiveDate,
    /// Accounting periods that audit covered ("2023-H1").
    #[serde(default)]
    pub periods: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Tolerances {
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub amount: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub amount_pct: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub fx_pct: Option<Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The product as `Decimal` multiplication gives it: value, scale and sign.
        #[test]
        fn times_is_decimal_multiplication(m in any::<i64>(), scale in 0u32..=20, other in prop_oneof![Just((1i64, 0u32)), Just((100, 2)), Just((1, 1)), (any::<i32>(), 0u32..=6).prop_map(|(m, s)| (i64::from(m), s))]) {
            let a = Decimal::new(m, scale);
            let b = Decimal::new(other.0, other.1);
            let (got, want) = (times(a, b), a * b);
            prop_assert_eq!(got, want);
            prop_assert_eq!(got.scale(), want.scale());
            prop_assert_eq!(got.is_sign_negative(), want.is_sign_negative());
            prop_assert_eq!(got.to_string(), want.to_string());
        }
    }

    #[test]
    fn a_zero_times_one_is_zero_at_scale_zero() {
        let z = Decimal::new(0, 2);
        assert_eq!(times(z, Decimal::ONE).to_string(), (z * Decimal::ONE).to_string());
        let mut nz = Decimal::new(0, 3);
        nz.set_sign_negative(true);
        assert_eq!(times(nz, Decimal::ONE).to_string(), (nz * Decimal::ONE).to_string());
    }
}
