//! Cash effects (domain.md §6.3). An under-credit on an unrecouped account moves the balance
//! toward recoupment but pays nothing today. For each statement account the corrected
//! balances are rolled forward with the findings applied one at a time (in period, rule and
//! id order); a finding's cash effect is how much the total payable over the audited periods
//! grows when it is applied. Accounts whose statements show no balances pay as they earn:
//! there, cash effect = account effect.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::account::{payable, statement_account, PeriodAccount};
use super::context::Ctx;
use super::finding::{Finding, Severity};
use crate::ledger::Period;

/// Extra payable per period when the deltas are applied to the stated balances.
fn extra_payable(ctx: &Ctx, periods: &[&PeriodAccount], deltas: &BTreeMap<usize, Decimal>) -> Vec<Decimal> {
    let (mut cum, mut extra_paid) = (Decimal::ZERO, Decimal::ZERO);
    let mut out = Vec::with_capacity(periods.len());
    for (i, pa) in periods.iter().enumerate() {
        cum += deltas.get(&i).copied().unwrap_or_default();
        let reported = pa.closing();
        let corrected = reported + cum - extra_paid;
        let extra = payable(ctx, corrected) - payable(ctx, reported);
        extra_paid += extra;
        out.push(extra);
    }
    out
}

/// The statement account of a finding: from its evidence, else the first one.
fn account_of_finding(ctx: &Ctx, f: &Finding) -> String {
    for e in &f.evidence {
        if let Some(l) = ctx.by_source().get(e) {
            return statement_account(ctx, l.account.as_deref());
        }
    }
    statement_account(ctx, ctx.statement.iter().find_map(|l| l.account.as_deref()))
}

fn period_index(periods: &[&PeriodAccount], p: Option<Period>) -> usize {
    let Some(p) = p else { return periods.len().saturating_sub(1) };
    periods
        .iter()
        .position(|pa| pa.period.is_some_and(|q| q.end >= p.end))
        .unwrap_or(periods.len().saturating_sub(1))
}

/// Cash effects of the findings, on the statement accounts rolled forward (`accounts`, from
/// [`super::account::roll_forward`]).
pub fn attribute(ctx: &Ctx, accounts: &[PeriodAccount], findings: &mut [Finding]) {
    let mut by_account: BTreeMap<String, Vec<&PeriodAccount>> = BTreeMap::new();
    for pa in accounts {
        by_account.entry(pa.account.clone()).or_default().push(pa);
    }
    // One statement account (most audits): every line, and so every finding, is of it; no
    // need to look findings up.
    let only_account = if by_account.len() == 1 { by_account.keys().next().cloned() } else { None };
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| (findings[a].period, findings[a].rule, &findings[a].keys).cmp(&(findings[b].period, findings[b].rule, &findings[b].keys)));
    let mut applied: BTreeMap<String, (BTreeMap<usize, Decimal>, Vec<Decimal>)> = BTreeMap::new();
    for i in order {
        let f = &findings[i];
        if f.cash_fixed || f.account_effect.is_zero() {
            continue;
        }
        if f.severity != Severity::Claim {
            findings[i].cash_effect = findings[i].account_effect;
            continue;
        }
        let acct = only_account.clone().unwrap_or_else(|| account_of_finding(ctx, f));
        let Some(periods) = by_account.get(&acct) else {
            findings[i].cash_effect = findings[i].account_effect;
            continue;
        };
        if periods.iter().all(|pa| pa.closing_reported.is_none()) {
            findings[i].cash_effect = findings[i].account_effect;
            continue;
        }
        let idx = period_index(periods, f.period);
        let (deltas, before) = applied.entry(acct).or_default();
        if before.is_empty() {
            *before = vec![Decimal::ZERO; periods.len()];
        }
        *deltas.entry(idx).or_default() += f.account_effect;
        let after = extra_payable(ctx, periods, deltas);
        let steps: Vec<Decimal> = after.iter().zip(before.iter()).map(|(a, b)| a - b).collect();
        let cash: Decimal = steps.iter().sum();
        // Interest runs from when the corrected account would first have paid it.
        let first_paid = steps.iter().position(|s| *s > Decimal::ZERO).and_then(|k| periods[k].period);
        findings[i].cash_effect = cash;
        findings[i].cash_period = first_paid;
        findings[i].trail.push(match first_paid {
            Some(p) if Some(p) != findings[i].period => format!(
                "cash effect: with this finding applied the corrected balance roll-forward pays {} more, first in {p} (the account was unrecouped before)",
                cash.normalize()
            ),
            _ => format!("cash effect: with this finding applied the corrected balance roll-forward pays {} more", cash.normalize()),
        });
        *before = after;
    }
}
