//! The ledger line: one normalised statement row, whatever format it came from.
//! Label statements' charges, reserves, payments and balances are ledger lines too, told
//! apart by [`LineKind`].

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Currency, Period, SourceRef, Territory};

/// Who issued the statement the line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    Label,
    Distributor,
    Dsp,
}

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Income credited (a sale, stream, licence…).
    Income,
    /// A charge against the account (advance, recording cost, video…).
    Charge,
    ReserveWithheld,
    ReserveReleased,
    /// Money paid to the payee.
    Payment,
    OpeningBalance,
    ClosingBalance,
    /// A prior-period correction or other listed adjustment.
    Adjustment,
}

/// Kind of exploitation (domain.md §0, "configuration").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeType {
    Stream,
    Download,
    Physical,
    Sync,
    Video,
    Neighbouring,
    Other,
}

macro_rules! from_name {
    ($t:ty { $($name:literal => $v:expr),* $(,)? }) => {
        impl $t {
            /// Parse the snake_case name used in profiles and outputs.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($v),)*
                    _ => None,
                }
            }
            pub const NAMES: &'static [&'static str] = &[$($name),*];
        }
    };
}

from_name!(StatementKind { "label" => StatementKind::Label, "distributor" => StatementKind::Distributor, "dsp" => StatementKind::Dsp });
from_name!(LineKind {
    "income" => LineKind::Income,
    "charge" => LineKind::Charge,
    "reserve_withheld" => LineKind::ReserveWithheld,
    "reserve_released" => LineKind::ReserveReleased,
    "payment" => LineKind::Payment,
    "opening_balance" => LineKind::OpeningBalance,
    "closing_balance" => LineKind::ClosingBalance,
    "adjustment" => LineKind::Adjustment,
});
from_name!(IncomeType {
    "stream" => IncomeType::Stream,
    "download" => IncomeType::Download,
    "physical" => IncomeType::Physical,
    "sync" => IncomeType::Sync,
    "video" => IncomeType::Video,
    "neighbouring" => IncomeType::Neighbouring,
    "other" => IncomeType::Other,
});

/// Something about a line that a check should know but that did not stop the import.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "flag", content = "value", rename_all = "snake_case")]
pub enum LineFlag {
    InvalidIsrc(String),
    InvalidUpc(String),
    InvalidIswc(String),
    UnknownTerritory(String),
    UnknownStore(String),
    /// The last line of a text file had no line terminator (the file may have been cut).
    NoLineTerminator,
}

/// A line's categorical texts (stores, ISRCs, titles, sale types, accounts, profile names):
/// interned, so a line holds an 8-byte handle and each distinct text is stored once for
/// the whole run. Large reports hold hundreds of thousands of lines that repeat a few
/// thousand texts. Interned texts are never freed, so texts that may be unique to a row
/// (descriptions, invoice references) are [`FreeText`] instead.
pub type LineText = ustr::Ustr;

/// `text` as a [`LineText`], through a per-thread table in front of the global one: the
/// rows of a report repeat the same texts, and the global table takes a lock shared by
/// every reading thread. The per-thread table is cleared when it grows past 65,536 texts
/// (free text in a categorical column), so its memory stays bounded.
pub fn intern(text: &str) -> LineText {
    use std::cell::RefCell;
    // (Texts of up to 24 bytes, codes and most names, are kept inside the table: a lookup
    // compares them where the hash led, without following a pointer to the text.)
    type Seen = std::collections::HashMap<compact_str::CompactString, LineText, foldhash::fast::FixedState>;
    thread_local! {
        static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
    }
    SEEN.with(|seen| {
        if let Some(t) = seen.borrow().get(text) {
            return *t;
        }
        let t = LineText::from(text);
        let mut seen = seen.borrow_mut();
        if seen.len() >= 1 << 16 {
            seen.clear();
        }
        seen.insert(text.into(), t);
        t
    })
}

/// A line's free text (description, invoice reference): owned by the line (up to 24 bytes
/// inside it without an allocation of its own), freed with it.
pub type FreeText = compact_str::CompactString;

/// Fields few lines carry: work and release identifiers, channel and price details,
/// packaging and free goods, currency conversion, charge details. Kept out of the line
/// (one allocation when a line has any of them), so that the hundreds of thousands of
/// sales lines of a large report, which carry none, stay small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LineDetails {
    pub iswc: Option<LineText>,
    pub release_title: Option<LineText>,
    /// Sales channel as written (e.g. "normal retail", "record club", "promotional").
    pub channel: Option<LineText>,
    /// Price category as written (e.g. "full price", "mid-price", "budget").
    pub price_category: Option<LineText>,
    /// Units shipped free of charge (free goods), when the statement shows them.
    pub free_units: Option<Decimal>,
    /// Packaging (container) deduction applied to the price, as a fraction (0.25 = 25%).
    pub container_pct: Option<Decimal>,
    pub unit_price: Option<Decimal>,
    /// Share already applied by the statement (distributor splits), as a fraction (1 = 100%).
    pub split_pct: Option<Decimal>,
    pub original_amount: Option<Decimal>,
    pub original_currency: Option<Currency>,
    pub fx_rate: Option<Decimal>,
    /// Charge category as normalised by the profile (e.g. "recording_cost", "video").
    pub charge_kind: Option<LineText>,
    /// Invoice or document reference supporting a charge.
    pub reference: Option<FreeText>,
    pub description: Option<FreeText>,
}

impl LineDetails {
    /// No details (what [`LedgerLine::details`] reads on a line without them).
    pub const NONE: LineDetails = LineDetails {
        iswc: None,
        release_title: None,
        channel: None,
        price_category: None,
        free_units: None,
        container_pct: None,
        unit_price: None,
        split_pct: None,
        original_amount: None,
        original_currency: None,
        fx_rate: None,
        charge_kind: None,
        reference: None,
        description: None,
    };
}

/// One normalised statement row. Every money field is an exact decimal in `currency`
/// (except `original_amount`, which is in `original_currency`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerLine {
    pub source: SourceRef,
    /// Name of the statement profile that read the line.
    pub profile: LineText,
    pub statement_kind: StatementKind,
    pub line_kind: LineKind,
    pub account: Option<LineText>,
    pub payee: Option<LineText>,
    pub sale_period: Option<Period>,
    pub accounting_period: Option<Period>,
    pub reporting_date: Option<NaiveDate>,
    /// Canonical store id (or the name as written when unknown, flagged).
    pub store: Option<LineText>,
    pub offering: Option<LineText>,
    pub territory: Option<Territory>,
    pub isrc: Option<LineText>,
    pub upc: Option<LineText>,
    pub title: Option<LineText>,
    pub artist: Option<LineText>,
    pub income_type: Option<IncomeType>,
    /// Sale type / configuration as written (e.g. "Song", "Album", "CD", "Premium stream").
    pub sale_type: Option<LineText>,
    pub units: Option<Decimal>,
    pub gross: Option<Decimal>,
    pub fees: Option<Decimal>,
    pub taxes: Option<Decimal>,
    pub net: Option<Decimal>,
    /// Royalty rate applied by the statement, as a fraction (0.18 = 18%).
    pub royalty_rate: Option<Decimal>,
    pub royalty: Option<Decimal>,
    /// Amount of a charge, reserve, payment, balance or adjustment, signed as stated.
    pub amount: Option<Decimal>,
    pub currency: Currency,
    /// The fields few lines carry (see [`LineDetails`]); `None` when the line has none.
    #[serde(flatten)]
    pub details: Option<Box<LineDetails>>,
    /// (A thin vector: 8 bytes in the line, and no allocation while empty, as nearly every
    /// line's is; a `Vec` took 24 bytes of each of a large audit's million lines.)
    pub flags: thin_vec::ThinVec<LineFlag>,
    /// Source rows this line stands for: 1, or more for sales rows rolled up by the
    /// streaming importer (their money fields are the sums; `source` is the first row).
    pub rows: u64,
    /// The contract territory group, when rolled-up sales rows of several territories of
    /// one group were kept as one line (`territory` is then empty).
    pub territory_group: Option<LineText>,
}

impl LedgerLine {
    /// An empty line of the given kind; importers fill in what the row holds.
    pub fn new(
        source: SourceRef,
        profile: impl Into<LineText>,
        statement_kind: StatementKind,
        line_kind: LineKind,
        currency: Currency,
    ) -> LedgerLine {
        LedgerLine {
            source,
            profile: profile.into(),
            statement_kind,
            line_kind,
            account: None,
            payee: None,
            sale_period: None,
            accounting_period: None,
            reporting_date: None,
            store: None,
            offering: None,
            territory: None,
            isrc: None,
            upc: None,
            title: None,
            artist: None,
            income_type: None,
            sale_type: None,
            units: None,
            gross: None,
            fees: None,
            taxes: None,
            net: None,
            royalty_rate: None,
            royalty: None,
            amount: None,
            currency,
            details: None,
            flags: thin_vec::ThinVec::new(),
            rows: 1,
            territory_group: None,
        }
    }

    /// The line's details (all `None` when it has none).
    pub fn details(&self) -> &LineDetails {
        static NONE: LineDetails = LineDetails::NONE;
        self.details.as_deref().unwrap_or(&NONE)
    }

    /// The line's details, to be set (allocated on first use).
    pub fn details_mut(&mut self) -> &mut LineDetails {
        self.details.get_or_insert_with(Default::default)
    }

    /// Set the line's details: kept only when there is one.
    pub fn set_details(&mut self, details: LineDetails) {
        self.details = (details != LineDetails::NONE).then(|| Box::new(details));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_texts_are_the_global_ones_however_many() {
        assert_eq!(intern("Spotify"), LineText::from("Spotify"));
        assert_eq!(intern("Spotify"), intern("Spotify"));
        assert_ne!(intern("Spotify"), intern("spotify"));
        // Past the per-thread bound the table is cleared; answers stay the same.
        let texts: Vec<String> = (0..(1 << 16) + 100).map(|i| format!("text {i}")).collect();
        for t in &texts {
            assert_eq!(intern(t).as_str(), t);
        }
        assert_eq!(intern("text 7").as_str(), "text 7");
    }

    #[test]
    fn details_are_kept_only_when_a_line_has_some() {
        let mut line = LedgerLine::new(SourceRef::new("f.csv", None, 2), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
        assert!(line.details.is_none() && line.details().fx_rate.is_none());
        line.set_details(LineDetails::default());
        assert!(line.details.is_none());
        line.set_details(LineDetails { fx_rate: Some(Decimal::ONE), ..LineDetails::default() });
        assert_eq!(line.details().fx_rate, Some(Decimal::ONE));
        line.details_mut().reference = Some("INV-1".into());
        assert_eq!(line.details().reference.as_deref(), Some("INV-1"));
    }
}
