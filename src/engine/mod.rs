//! The rule engine: recompute what the contract says was due from the ledger, run the
//! checks (one module per rule group), work out each finding's cash effect and interest,
//! and return the findings in a stable order with stable ids.

pub mod account;
pub mod checks;
pub mod context;
pub mod effects;
pub mod finding;
pub mod fx_rates;
pub mod inputs;
pub mod royalty;
pub mod same_keys;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

pub use account::PeriodAccount;
pub use context::{Ctx, Options, DEFAULT_LAG_MONTHS};
pub use finding::{assign_ids, Category, Finding, Rule, Severity};

use crate::contract::{Contract, DealKind};
use crate::import::FileImport;
use crate::ledger::Period;

/// Totals of an audit, in the contract currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Royalties the audited statements credited (income lines).
    pub reported_royalties: Decimal,
    /// What the contract makes due on the same lines.
    pub recomputed_royalties: Decimal,
    /// Sum of royalty effects of claim findings (what auditors headline).
    pub royalty_effect: Decimal,
    pub account_effect: Decimal,
    /// Cash owed today (claim findings, not time-barred), before interest.
    pub principal: Decimal,
    pub interest: Decimal,
    pub claim: Decimal,
    /// Principal ÷ reported royalties, in percent (2 decimals).
    pub underpayment_pct: Option<Decimal>,
    pub cost_shift_threshold_pct: Option<Decimal>,
    pub cost_shift_met: Option<bool>,
    pub time_barred: Decimal,
    /// Statements' errors in the payee's favour (kept out of the claim).
    pub overstatements: Decimal,
    /// Cash owed to others than the payee (producers), by name.
    pub third_party: BTreeMap<String, Decimal>,
}

/// One accounting period as stated and as corrected by the claim findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeriodSummary {
    pub period: String,
    /// Royalties the statement credited.
    pub reported_royalties: Decimal,
    /// What should have been credited: reported plus the royalty effects found.
    pub recomputed_royalties: Decimal,
    /// Closing balance as stated (all statement accounts).
    pub closing_stated: Option<Decimal>,
    /// The closing balance with the findings' account effects carried forward, less what
    /// the corrected account would have paid out.
    pub closing_corrected: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub contract: String,
    pub contract_file: String,
    pub payee: String,
    pub currency: String,
    pub claim_date: Option<NaiveDate>,
    pub interest_rate_pct: Option<Decimal>,
    pub statement_periods: Vec<String>,
    pub lines_audited: usize,
    pub source_lines: usize,
    pub totals: Totals,
    pub accounts: Vec<PeriodAccount>,
    pub periods: Vec<PeriodSummary>,
    pub findings: Vec<Finding>,
}

/// Run every check of the contract's deal kind over the imported statements.
pub fn run(contract: &Contract, files: &[FileImport], opts: &Options) -> Audit {
    let ctx = Ctx::new(contract, files, opts);
    let mut findings = Vec::new();
    match contract.terms.contract.kind {
        DealKind::Royalty => {
            use crate::timings::stage;
            // The income check reads the sales data, the slowest check on a large audit, and
            // needs no recomputation: it runs beside the recomputation and the other checks,
            // and its findings go where they would have gone (after the rate checks').
            // The integrity checks read only the statements: they run on a thread of their own
            // too, beside the recomputation and the rate checks (which take about as long as
            // the income check; run after them, the integrity checks ended last). Their
            // findings are in before the checks that follow look at what was found.
            let mut rest = Vec::new();
            let income = std::thread::scope(|scope| {
                let income = scope.spawn(|| {
                    let _t = stage("engine: income");
                    let mut found = Vec::new();
                    checks::income::run(&ctx, &mut found);
                    found
                });
                let integrity = scope.spawn(|| {
                    let _t = stage("engine: integrity");
                    let mut found = Vec::new();
                    checks::integrity::run(&ctx, &mut found);
                    found
                });
                { let _t = stage("engine: recompute"); ctx.calcs(); }
                { let _t = stage("engine: rates"); checks::rates::run(&ctx, &mut findings); }
                match integrity.join() {
                    Ok(found) => rest.extend(found),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
                { let _t = stage("engine: recoupment"); checks::recoupment::run(&ctx, &mut rest); }
                { let _t = stage("engine: reserves"); checks::reserves::run(&ctx, &mut rest); }
                { let _t = stage("engine: producers"); checks::producers::run(&ctx, &mut rest); }
                { let _t = stage("engine: fx"); checks::fx::run(&ctx, &mut rest); }
                { let _t = stage("engine: timing"); checks::timing::run(&ctx, &mut rest); }
                income.join()
            });
            match income {
                Ok(found) => findings.extend(found),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            findings.append(&mut rest);
        }
        DealKind::Distribution => {
            checks::integrity::run(&ctx, &mut findings);
            checks::distribution::run(&ctx, &mut findings);
            checks::fx::run(&ctx, &mut findings);
        }
    }
    let _t = crate::timings::stage("engine: effects and totals");
    // What the statements reported and what the recomputation expects, summed over every
    // line, on a thread of their own while the findings' effects are worked out.
    let (mut accounts, sums) = std::thread::scope(|scope| {
        let sums = scope.spawn(|| (reported_royalties(&ctx), ctx.calcs().iter().map(|c| c.expected).sum::<Decimal>()));
        let accounts = account::roll_forward(&ctx);
        effects::attribute(&ctx, &accounts, &mut findings);
        checks::timing::finalize(&ctx, &mut findings);
        (accounts, sums.join())
    });
    let (reported, recomputed) = match sums {
        Ok(sums) => sums,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let minor = contract.currency.minor_units();
    for f in findings.iter_mut().filter(|f| f.clause.is_empty()) {
        f.clause = default_clause(contract, f.rule);
    }
    for f in findings.iter_mut() {
        for v in [&mut f.royalty_effect, &mut f.account_effect, &mut f.cash_effect, &mut f.interest] {
            *v = tidy(*v, minor);
        }
        for v in [&mut f.expected, &mut f.reported, &mut f.difference].into_iter().flatten() {
            *v = tidy(*v, minor);
        }
    }
    findings.sort_by(|a, b| (a.rule, a.period, &a.keys, &a.title).cmp(&(b.rule, b.period, &b.keys, &b.title)));
    assign_ids(&mut findings);
    let totals = totals(&ctx, &findings, &reported, recomputed);
    for pa in &mut accounts {
        for v in [
            &mut pa.credits,
            &mut pa.charges,
            &mut pa.reserves_withheld,
            &mut pa.reserves_released,
            &mut pa.payments,
            &mut pa.adjustments,
            &mut pa.closing_computed,
        ] {
            *v = tidy(*v, minor);
        }
        for v in [&mut pa.opening, &mut pa.closing_reported].into_iter().flatten() {
            *v = tidy(*v, minor);
        }
    }
    let periods = period_summaries(&ctx, &accounts, &findings, &reported);
    Audit {
        contract: contract.id().to_string(),
        contract_file: contract.path.clone(),
        payee: contract.terms.contract.payee.clone(),
        currency: ctx.currency.clone(),
        claim_date: ctx.claim_date,
        interest_rate_pct: contract.audit().and_then(|a| a.interest_rate_pct),
        statement_periods: ctx.statement_periods().iter().map(|p| p.to_string()).collect(),
        lines_audited: ctx.statement.len(),
        source_lines: ctx.source.len(),
        totals,
        accounts,
        periods,
        findings,
    }
}

/// Royalties the label reported on its income lines: in all, and by period.
struct Reported {
    total: Decimal,
    by_period: BTreeMap<Option<Period>, Decimal>,
}

/// [`Reported`], in one pass over the statement lines.
fn reported_royalties(ctx: &Ctx) -> Reported {
    let mut by_period: BTreeMap<Option<Period>, Decimal> = BTreeMap::new();
    for l in ctx.statement.iter().filter(|l| l.line_kind == crate::ledger::LineKind::Income) {
        *by_period.entry(Ctx::period_of(l)).or_default() += l.royalty.or(l.net).unwrap_or_default();
    }
    Reported { total: by_period.values().sum(), by_period }
}

fn period_summaries(ctx: &Ctx, accounts: &[PeriodAccount], findings: &[Finding], reported: &Reported) -> Vec<PeriodSummary> {
    let minor = ctx.contract.currency.minor_units();
    let mut out = Vec::new();
    let (mut cum_effect, mut cum_paid) = (Decimal::ZERO, Decimal::ZERO);
    for &p in ctx.statement_periods() {
        let reported = reported.by_period.get(&Some(p)).copied().unwrap_or_default();
        let claims: Vec<&Finding> = findings.iter().filter(|f| f.severity == Severity::Claim && f.payee.is_none()).collect();
        let found: Decimal = claims.iter().filter(|f| f.period == Some(p)).map(|f| f.royalty_effect).sum();
        cum_effect += claims.iter().filter(|f| f.period == Some(p) && !f.cash_fixed).map(|f| f.account_effect).sum::<Decimal>();
        let stated: Vec<Decimal> = accounts.iter().filter(|a| a.period == Some(p)).filter_map(|a| a.closing_reported).collect();
        let closing_stated = if stated.is_empty() { None } else { Some(stated.iter().sum::<Decimal>()) };
        out.push(PeriodSummary {
            period: p.to_string(),
            reported_royalties: tidy(reported, minor),
            recomputed_royalties: tidy(reported + found, minor),
            closing_stated: closing_stated.map(|v| tidy(v, minor)),
            closing_corrected: closing_stated.map(|v| tidy(v + cum_effect - cum_paid, minor)),
        });
        cum_paid += claims.iter().filter(|f| f.cash_period == Some(p) && !f.cash_fixed).map(|f| f.cash_effect).sum::<Decimal>();
    }
    out
}

/// The contract provision a finding rests on when its check names none more specific.
fn default_clause(c: &Contract, rule: Rule) -> String {
    use Rule::*;
    let header = format!("{}:1", c.path);
    match rule {
        A1 | A2 | A3 | C10 | D1 | D2 | D7 => format!("accounting and statements ([contract] at {header})"),
        A4 => "identifier validation (ISRC, UPC/EAN, ISWC, ISO 3166; domain.md §7)".into(),
        A5 | G1 => format!("accounting periods and statement deadline ([contract] accounting, statement_due_days at {header})"),
        A6 | B1 | B2 | B3 | B4 | B5 => "royalty terms for the income ([[royalties]])".into(),
        G2 | G3 | G4 => c.audit().map(|_| "[audit]".to_string()).unwrap_or_else(|| "[audit] (not given)".into()),
        _ => String::new(),
    }
}

/// Exact value, written with the currency's minor units at least and no trailing zeros
/// beyond them (16.0000 → 16.00, 0.049800 → 0.0498). The value itself is unchanged.
pub fn tidy(v: Decimal, minor_units: u32) -> Decimal {
    let mut n = v.normalize();
    if n.scale() < minor_units {
        n.rescale(minor_units);
    }
    n
}

/// (`recomputed`: the sum of the recomputation's expected royalties.)
fn totals(ctx: &Ctx, findings: &[Finding], reported: &Reported, recomputed: Decimal) -> Totals {
    let mut t = Totals {
        reported_royalties: reported.total,
        recomputed_royalties: recomputed,
        ..Default::default()
    };
    for f in findings {
        match f.severity {
            Severity::Claim if f.payee.is_some() => {
                if let Some(p) = &f.payee {
                    *t.third_party.entry(p.clone()).or_default() += f.cash_effect;
                }
            }
            Severity::Claim if f.time_barred => t.time_barred += f.cash_effect + f.interest,
            Severity::Claim => {
                t.royalty_effect += f.royalty_effect;
                t.account_effect += f.account_effect;
                t.principal += f.cash_effect;
                t.interest += f.interest;
            }
            Severity::Overstatement => t.overstatements += f.royalty_effect.min(f.account_effect),
            _ => {}
        }
    }
    t.claim = t.principal + t.interest;
    let minor = ctx.contract.currency.minor_units();
    for v in [
        &mut t.reported_royalties,
        &mut t.recomputed_royalties,
        &mut t.royalty_effect,
        &mut t.account_effect,
        &mut t.principal,
        &mut t.interest,
        &mut t.claim,
        &mut t.time_barred,
        &mut t.overstatements,
    ] {
        *v = tidy(*v, minor);
    }
    if !t.reported_royalties.is_zero() {
        t.underpayment_pct = Some((t.royalty_effect.max(t.principal) / t.reported_royalties * Decimal::ONE_HUNDRED).round_dp(2));
    }
    t.cost_shift_threshold_pct = ctx.contract.audit().and_then(|a| a.cost_shift_threshold_pct);
    t.cost_shift_met = t.cost_shift_threshold_pct.zip(t.underpayment_pct).map(|(th, u)| u >= th);
    t
}

/// Checks a contract's terms leave unevaluable (shown by `check-contract`).
pub fn unevaluable(c: &Contract) -> Vec<(&'static str, String)> {
    let t = &c.terms;
    let mut v = Vec::new();
    if t.contract.kind == DealKind::Royalty && t.royalties.is_empty() {
        v.push(("C1–C8", "no [[royalties]] terms: no line can be recomputed".to_string()));
    }
    if t.releases.iter().all(|r| r.get_ref().prices.is_empty()) && t.royalties.iter().any(|r| r.get_ref().base != crate::contract::Base::NetReceipts) {
        v.push(("C2", "no release lists contract prices: the statement's price is taken as the base".into()));
    }
    if t.tracks.is_empty() {
        v.push(("A6", "no [[tracks]] catalogue: unreported ISRCs cannot be named".into()));
    }
    if t.contract.accounting.is_none() {
        v.push(("A5", "[contract] accounting missing: missing statements cannot be found".into()));
    }
    if t.recoupable.is_none() {
        v.push(("D3/D4", "[recoupable] missing: charges cannot be checked".into()));
    }
    if t.advances.is_empty() {
        v.push(("D6", "no [[advances]]: advance amounts cannot be checked".into()));
    }
    if t.reserves.is_none() {
        v.push(("E1–E3", "[reserves] missing: reserves cannot be checked".into()));
    }
    if t.fx.is_none() {
        v.push(("F1/F2", "[fx] missing: conversions cannot be checked".into()));
    }
    if t.contract.statement_due_days.is_none() {
        v.push(("G1/G2", "[contract] statement_due_days missing: lateness and due dates cannot be assessed".into()));
    }
    match c.audit() {
        None => v.push(("G2/G3", "[audit] missing: no interest, no time bars, no cost shifting".into())),
        Some(a) => {
            if a.interest_rate_pct.is_none() {
                v.push(("G2", "[audit] interest_rate_pct missing: no interest".into()));
            }
            if a.objection_period_months.is_none() {
                v.push(("G3", "[audit] objection_period_months missing: no time bars".into()));
            }
        }
    }
    v
}
