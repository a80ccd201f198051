//! What every check reads: the contract, the options with tolerances resolved, the label's
//! lines for this contract, the third-party (distributor/DSP) lines, and the per-line
//! recomputation of royalties.

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;

use super::royalty::{recompute, LineCalc};
use crate::contract::{pct, Contract, DealKind};
use crate::import::FileImport;
use crate::ledger::{LedgerLine, Period, StatementKind};

/// Audit options; each overrides the contract's value, which overrides the default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub claim_date: Option<NaiveDate>,
    /// Line amount tolerance in the statement currency (default 0.01).
    pub amount_tolerance: Option<Decimal>,
    /// Line amount tolerance as a percent of the expected amount (default 0.1).
    pub amount_tolerance_pct: Option<Decimal>,
    /// FX tolerance in percent (default 2).
    pub fx_tolerance_pct: Option<Decimal>,
    /// Reporting lag window in months (default 9).
    pub lag_months: Option<u32>,
}

pub const DEFAULT_LAG_MONTHS: u32 = 9;
pub const DEFAULT_AMOUNT_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
pub const DEFAULT_AMOUNT_TOLERANCE_PCT: Decimal = Decimal::from_parts(1, 0, 0, false, 1);
pub const DEFAULT_FX_TOLERANCE_PCT: Decimal = Decimal::from_parts(2, 0, 0, false, 0);

pub struct Ctx<'a> {
    pub contract: &'a Contract,
    pub files: &'a [FileImport],
    pub currency: String,
    pub claim_date: Option<NaiveDate>,
    pub amount_tol: Decimal,
    /// As a fraction.
    pub amount_tol_pct: Decimal,
    /// As a fraction.
    pub fx_tol: Decimal,
    pub lag_months: u32,
    /// The audited statements' lines: the label's for a royalty deal, the distributor's for a
    /// distribution deal.
    pub statement: Vec<&'a LedgerLine>,
    /// Third-party sales data to check the label's statements against.
    pub source: Vec<&'a LedgerLine>,
    /// See [`Ctx::calcs`].
    calcs: std::sync::OnceLock<Vec<LineCalc>>,
    /// See [`Ctx::statement_periods`].
    statement_periods: std::sync::OnceLock<Vec<Period>>,
    /// See [`Ctx::statement_dates`].
    statement_dates: std::sync::OnceLock<std::collections::BTreeMap<Period, chrono::NaiveDate>>,
    /// See [`Ctx::by_source`].
    by_source: std::sync::OnceLock<std::collections::HashMap<&'a crate::ledger::SourceRef, &'a LedgerLine, foldhash::fast::FixedState>>,
}

impl<'a> Ctx<'a> {
    pub fn new(contract: &'a Contract, files: &'a [FileImport], opts: &Options) -> Ctx<'a> {
        let audit = contract.audit();
        let t = &contract.terms.tolerances;
        let audited_kind = match contract.terms.contract.kind {
            DealKind::Royalty => StatementKind::Label,
            DealKind::Distribution => StatementKind::Distributor,
        };
        let mut statement = Vec::new();
        let mut source = Vec::new();
        for f in files {
            for l in &f.lines {
                if l.statement_kind == audited_kind {
                    if audited_kind != StatementKind::Label || contract.owns_statement_account(l.account.as_deref()) {
                        statement.push(l);
                    }
                } else if audited_kind == StatementKind::Label {
                    source.push(l);
                }
            }
        }
        Ctx {
            contract,
            files,
            currency: contract.currency.code().to_string(),
            claim_date: opts.claim_date.or(audit.and_then(|a| a.claim_date)),
            amount_tol: opts.amount_tolerance.or(t.amount).unwrap_or(DEFAULT_AMOUNT_TOLERANCE),
            amount_tol_pct: pct(opts.amount_tolerance_pct.or(t.amount_pct).unwrap_or(DEFAULT_AMOUNT_TOLERANCE_PCT)),
            fx_tol: pct(opts
                .fx_tolerance_pct
                .or(contract.terms.fx.as_ref().and_then(|f| f.get_ref().tolerance_pct))
                .or(t.fx_pct)
                .unwrap_or(DEFAULT_FX_TOLERANCE_PCT)),
            lag_months: opts.lag_months.or(audit.and_then(|a| a.lag_months)).unwrap_or(DEFAULT_LAG_MONTHS),
            by_source: std::sync::OnceLock::new(),
            statement,
            source,
            calcs: std::sync::OnceLock::new(),
            statement_periods: std::sync::OnceLock::new(),
            statement_dates: std::sync::OnceLock::new(),
        }
    }

    /// Recomputation of every income line of `statement`, in chronological order (royalty
    /// deals; worked out on first use, so that checks that do not need it can start first).
    pub fn calcs(&self) -> &[LineCalc] {
        self.calcs.get_or_init(|| if self.contract.terms.contract.kind == DealKind::Royalty { recompute(self) } else { Vec::new() })
    }

    /// The audited statement lines by their source row (built on first use: hashing the
    /// source of every line of a large statement takes a while, and few audits need it).
    pub fn by_source(&self) -> &std::collections::HashMap<&'a crate::ledger::SourceRef, &'a LedgerLine, foldhash::fast::FixedState> {
        self.by_source.get_or_init(|| self.statement.iter().map(|l| (&l.source, *l)).collect())
    }

    /// Tolerance for comparing an expected amount: max(absolute, percent of expected).
    pub fn tol(&self, expected: Decimal) -> Decimal {
        self.amount_tol.max(expected.abs() * self.amount_tol_pct)
    }

    /// The accounting period a statement line belongs to.
    pub fn period_of(line: &LedgerLine) -> Option<Period> {
        line.accounting_period.or(line.sale_period)
    }

    /// The date each accounting period's statement was issued (the earliest reporting date
    /// on its label lines), worked out once: the timing checks ask twice, and each time
    /// had been a pass over every line of the statements.
    pub fn statement_dates(&self) -> &std::collections::BTreeMap<Period, chrono::NaiveDate> {
        self.statement_dates.get_or_init(|| {
            let mut out: std::collections::BTreeMap<Period, chrono::NaiveDate> = std::collections::BTreeMap::new();
            for l in self.statement.iter().filter(|l| l.statement_kind == crate::ledger::StatementKind::Label) {
                if let (Some(d), Some(p)) = (l.reporting_date, Ctx::period_of(l)) {
                    let e = out.entry(p).or_insert(d);
                    if d < *e {
                        *e = d;
                    }
                }
            }
            out
        })
    }

    /// Accounting periods of the audited statements, in order (worked out once).
    pub fn statement_periods(&self) -> &[Period] {
        self.statement_periods.get_or_init(|| {
            // Lines of a period come together: repeats in a row are dropped as they come.
            let mut v: Vec<Period> = Vec::new();
            for p in self.statement.iter().filter_map(|l| Ctx::period_of(l)) {
                if v.last() != Some(&p) {
                    v.push(p);
                }
            }
            v.sort();
            v.dedup();
            v
        })
    }

    /// When a period's statement (and payment) was due.
    pub fn due_date(&self, period: &Period) -> Option<NaiveDate> {
        let days = self.contract.terms.contract.statement_due_days?;
        period.end.checked_add_days(chrono::Days::new(u64::from(days)))
    }

    pub fn months_after(d: NaiveDate, months: u32) -> NaiveDate {
        d.checked_add_months(Months::new(months)).unwrap_or(d)
    }
}
