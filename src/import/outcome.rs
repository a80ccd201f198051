//! What importing one file produced: ledger lines, rejected rows (with reasons), declared
//! non-data rows, and the control-total checks. `rows_read` is counted from the file itself,
//! so `rows_read == lines + rejects + non-data` is a real check, not a tautology.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::ledger::{Currency, LedgerLine, SourceRef};

/// A row that could not become a ledger line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub source: SourceRef,
    pub reason: String,
    /// Currency of the row when it could be read.
    #[serde(skip)]
    pub currency: Option<Currency>,
    /// Money and quantity values of the row that did parse, by ledger field, so that money
    /// conservation can include them.
    #[serde(skip)]
    pub amounts: BTreeMap<String, Decimal>,
}

/// A row that carries no ledger data: header, preamble, blank, total, DSR record…
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NonData {
    pub source: SourceRef,
    pub reason: String,
}

/// A figure stated by the file (a total row, a DSR footer) compared with what was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlCheck {
    pub source: SourceRef,
    /// What is compared: a ledger field (net, units, royalty…) or "lines" for DSR footers.
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    pub stated: Decimal,
    /// Imported plus rejected-but-parsed, when it could be computed.
    pub computed: Option<Decimal>,
    /// `None` when the check could not be made (the note says why).
    pub ok: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a header column was mapped (shown by `inspect`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnMapping {
    pub field: String,
    pub column: String,
    pub header: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileImport {
    pub file: String,
    pub profile: String,
    /// csv, xlsx, dsrf…
    pub format: String,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub hidden_sheets: Vec<String>,
    pub notes: Vec<String>,
    pub rows_read: u64,
    pub lines: Vec<LedgerLine>,
    pub rejects: Vec<Reject>,
    pub nondata: Vec<NonData>,
    pub controls: Vec<ControlCheck>,
    pub columns: Vec<ColumnMapping>,
    /// Lines sent to a [`super::LineSink`] instead of kept in `lines`: their counts and
    /// totals.
    pub spilled: Option<Spilled>,
}

/// Counts and totals of ledger lines that were written out, not kept.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spilled {
    pub lines: u64,
    /// Source rows they stand for.
    pub rows: u64,
    pub totals: BTreeMap<Currency, Totals>,
}

impl Spilled {
    pub fn add(&mut self, lines: &[LedgerLine]) {
        self.lines += lines.len() as u64;
        for line in lines {
            self.rows += line.rows;
            add_to_totals(&mut self.totals, line);
        }
    }
}

fn add_to_totals(out: &mut BTreeMap<Currency, Totals>, line: &LedgerLine) {
    let t = out.entry(line.currency).or_default();
    t.lines += 1;
    t.units += line.units.unwrap_or_default();
    t.gross += line.gross.unwrap_or_default();
    t.net += line.net.unwrap_or_default();
    t.royalty += line.royalty.unwrap_or_default();
    t.amount += line.amount.unwrap_or_default();
}

/// Sums per currency of the money and quantity fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Totals {
    pub units: Decimal,
    pub gross: Decimal,
    pub net: Decimal,
    pub royalty: Decimal,
    pub amount: Decimal,
    pub lines: u64,
}

impl FileImport {
    /// All control checks held; `None` when the file states no totals.
    pub fn control_totals_ok(&self) -> Option<bool> {
        let decided: Vec<bool> = self.controls.iter().filter_map(|c| c.ok).collect();
        if self.controls.is_empty() {
            None
        } else if decided.len() < self.controls.len() {
            // Some stated totals could not be checked: only a failure is conclusive.
            if decided.contains(&false) { Some(false) } else { None }
        } else {
            Some(decided.iter().all(|ok| *ok))
        }
    }

    pub fn totals(&self) -> BTreeMap<Currency, Totals> {
        let mut out: BTreeMap<Currency, Totals> = self.spilled.as_ref().map(|s| s.totals.clone()).unwrap_or_default();
        for line in &self.lines {
            add_to_totals(&mut out, line);
        }
        out
    }

    /// Ledger lines the file gave (kept or written out).
    pub fn line_count(&self) -> u64 {
        self.lines.len() as u64 + self.spilled.as_ref().map_or(0, |s| s.lines)
    }

    /// Money in rejected rows that parsed, per currency and field.
    pub fn rejected_totals(&self) -> BTreeMap<Currency, BTreeMap<String, Decimal>> {
        let mut out: BTreeMap<Currency, BTreeMap<String, Decimal>> = BTreeMap::new();
        for r in &self.rejects {
            if let Some(c) = r.currency {
                for (field, v) in &r.amounts {
                    *out.entry(c).or_default().entry(field.clone()).or_default() += *v;
                }
            }
        }
        out
    }

    /// Non-data rows counted by reason.
    pub fn nondata_reasons(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for n in &self.nondata {
            *out.entry(n.reason.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Source rows that became ledger lines (a rolled-up line counts all its rows).
    pub fn rows_imported(&self) -> u64 {
        self.lines.iter().map(|l| l.rows).sum::<u64>() + self.spilled.as_ref().map_or(0, |s| s.rows)
    }

    /// rows_read == imported + rejected + non-data.
    pub fn rows_balance(&self) -> bool {
        self.rows_read == self.rows_imported() + (self.rejects.len() + self.nondata.len()) as u64
    }
}
