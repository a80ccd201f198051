//! Reserves (rules E1–E3, domain.md §1.6). Each reserve withheld is a tranche; releases are
//! applied to the oldest open tranche first; each tranche must be released on the contract's
//! schedule (equal parts over N periods, or in full by the N-th period).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::contract::{pct, Liquidation};
use crate::engine::account::statement_account;
use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LineKind, Period, SourceRef};

fn n(v: Decimal) -> String {
    v.normalize().to_string()
}

struct Tranche {
    period: Period,
    withheld: Decimal,
    allowed: Decimal,
    released: Decimal,
    refs: Vec<SourceRef>,
    scope_note: Option<String>,
}

/// Whole accounting periods from the end of `a` to the end of `b`.
fn periods_between(a: &Period, b: &Period, months_per_period: u32) -> u32 {
    use chrono::Datelike;
    let months = (b.end.year() - a.end.year()) * 12 + b.end.month() as i32 - a.end.month() as i32;
    (months.max(0) as u32) / months_per_period.max(1)
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let withheld: Vec<_> = ctx.statement.iter().filter(|l| l.line_kind == LineKind::ReserveWithheld).collect();
    if withheld.is_empty() {
        return;
    }
    let Some(policy) = &c.terms.reserves else {
        let mut f = Finding::not_checked(Rule::E1, &ctx.currency, "Reserves are withheld but the contract has no [reserves] terms; the cap and liquidation cannot be checked.")
            .key("contract", c.id());
        f.evidence = withheld.iter().map(|l| l.source.clone()).collect();
        out.push(f);
        return;
    };
    let clause = c.section_clause("[reserves]", policy.span());
    let policy = policy.get_ref();
    let months_per_period = c
        .terms
        .contract
        .accounting
        .map(|a| a.months())
        .unwrap_or(6);
    let mut accounts: BTreeMap<String, Vec<Tranche>> = BTreeMap::new();
    let mut base: BTreeMap<(String, Option<Period>), Decimal> = BTreeMap::new();
    for l in &ctx.statement {
        if l.line_kind == LineKind::Income
            && l.income_type.is_some_and(|t| policy.applies_to.iter().any(|a| a == crate::contract::income_type_name(t)))
        {
            *base.entry((statement_account(ctx, l.account.as_deref()), Ctx::period_of(l))).or_default() += l.royalty.unwrap_or_default();
        }
    }
    let mut sorted = withheld.clone();
    sorted.sort_by_key(|l| (Ctx::period_of(l), l.source.clone()));
    for l in sorted {
        let Some(period) = Ctx::period_of(l) else { continue };
        let acct = statement_account(ctx, l.account.as_deref());
        let list = accounts.entry(acct.clone()).or_default();
        let w = -l.amount.unwrap_or_default();
        let out_of_scope = l.income_type.is_some_and(|t| !policy.applies_to.iter().any(|a| a == crate::contract::income_type_name(t)));
        let period_base = base.get(&(acct.clone(), Some(period))).copied().unwrap_or_default();
        match list.iter_mut().find(|t| t.period == period) {
            Some(t) if !out_of_scope => {
                t.withheld += w;
                t.refs.push(l.source.clone());
            }
            _ => list.push(Tranche {
                period,
                withheld: w,
                allowed: if out_of_scope { Decimal::ZERO } else { period_base * pct(policy.cap_pct) },
                released: Decimal::ZERO,
                refs: vec![l.source.clone()],
                scope_note: if out_of_scope {
                    Some(format!("taken on {} lines, which the reserve clause does not cover", l.income_type.map(crate::contract::income_type_name).unwrap_or("other")))
                } else if period_base.is_zero() {
                    Some(format!("no {} royalties in {period} to hold a reserve against", policy.applies_to.join("/")))
                } else {
                    None
                },
            }),
        }
    }
    // Releases, oldest tranche first, in period order; track when each tranche fell behind.
    let mut releases: Vec<_> = ctx.statement.iter().filter(|l| l.line_kind == LineKind::ReserveReleased).collect();
    releases.sort_by_key(|l| (Ctx::period_of(l), l.source.clone()));
    let periods = ctx.statement_periods();
    let Some(last) = periods.last().copied() else { return };
    for (acct, tranches) in accounts.iter_mut() {
        let mut behind: Vec<Option<Period>> = vec![None; tranches.len()];
        for p in periods {
            let mut amount = Decimal::ZERO;
            for l in releases.iter().filter(|l| Ctx::period_of(l) == Some(*p) && &statement_account(ctx, l.account.as_deref()) == acct) {
                let mut left = l.amount.unwrap_or_default().abs();
                // A release that names its tranche ("Reserve release 2024-H1") goes to it.
                if let Some(named) = l.details().description.as_deref().and_then(named_period)
                    && let Some(t) = tranches.iter_mut().find(|t| t.period.to_string() == named)
                {
                    let take = (t.withheld - t.released).max(Decimal::ZERO).min(left);
                    t.released += take;
                    left -= take;
                }
                amount += left;
            }
            for t in tranches.iter_mut() {
                if amount <= Decimal::ZERO {
                    break;
                }
                let open = t.withheld - t.released;
                let take = open.min(amount);
                if take > Decimal::ZERO {
                    t.released += take;
                    amount -= take;
                }
            }
            for (i, t) in tranches.iter().enumerate() {
                let due = scheduled(policy.liquidation, policy.periods, t.withheld, periods_between(&t.period, p, months_per_period));
                if behind[i].is_none() && due - t.released > ctx.amount_tol {
                    behind[i] = Some(*p);
                }
            }
        }
        for (i, t) in tranches.iter().enumerate() {
            let due = scheduled(policy.liquidation, policy.periods, t.withheld, periods_between(&t.period, &last, months_per_period));
            let outstanding = (due - t.released).max(Decimal::ZERO);
            let held = t.withheld - t.released;
            let mk = |rule: Rule, period: Period| {
                let mut f = Finding::new(rule, Severity::Claim, &ctx.currency)
                    .key("contract", c.id())
                    .key("account", acct)
                    .key("tranche", t.period);
                f.period = Some(period);
                f.evidence = t.refs.clone();
                f.clause = clause.clone();
                f.trail.push(format!(
                    "tranche {}: withheld {}, allowed {} ({}% cap), released {} by {}",
                    t.period,
                    n(t.withheld),
                    n(t.allowed),
                    n(policy.cap_pct),
                    n(t.released),
                    last
                ));
                f
            };
            if outstanding > ctx.amount_tol {
                let mut f = mk(Rule::E3, behind[i].unwrap_or(last)).figures(due, t.released);
                f.account_effect = outstanding;
                f.trail.push(format!(
                    "schedule ({:?} over {} periods): {} due by {last}; outstanding {}",
                    policy.liquidation,
                    policy.periods,
                    n(due),
                    n(outstanding)
                ));
                f.explanation = format!(
                    "The reserve taken in {} ({}) should have been released by {last} to the extent of {}; {} is still held.",
                    t.period,
                    n(t.withheld),
                    n(due),
                    n(outstanding)
                );
                out.push(f);
            }
            let excess = (t.withheld - t.allowed).max(Decimal::ZERO).min(held - outstanding);
            if excess > ctx.amount_tol {
                let rule = if t.allowed.is_zero() { Rule::E2 } else { Rule::E1 };
                let mut f = mk(rule, t.period).figures(t.allowed, t.withheld);
                f.account_effect = excess;
                f.explanation = match &t.scope_note {
                    Some(note) => format!("A reserve of {} was {note}.", n(t.withheld)),
                    None => format!(
                        "The reserve of {} in {} exceeds the {}% cap ({}); {} of the excess is still held.",
                        n(t.withheld),
                        t.period,
                        n(policy.cap_pct),
                        n(t.allowed),
                        n(excess)
                    ),
                };
                out.push(f);
            }
        }
    }
}

/// A period label written in a description: 2024-H1, 2024-Q3, 2024-05.
fn named_period(text: &str) -> Option<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"\b(\d{4}-(?:H[12]|Q[1-4]|(?:0[1-9]|1[0-2])))\b").expect("valid regex"));
    re.captures(text).map(|c| c[1].to_string())
}

/// How much of a tranche must have been released `k` periods after it was taken.
pub fn scheduled(liquidation: Liquidation, periods: u32, withheld: Decimal, k: u32) -> Decimal {
    match liquidation {
        Liquidation::Equal => withheld * Decimal::from(k.min(periods)) / Decimal::from(periods.max(1)),
        Liquidation::Deadline => {
            if k >= periods {
                withheld
            } else {
                Decimal::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_schedule_example_1b() {
        // Example 1-B: $3,978.00 released in four equal semi-annual parts of $994.50.
        let w = Decimal::new(397800, 2);
        assert_eq!(scheduled(Liquidation::Equal, 4, w, 1), Decimal::new(99450, 2));
        assert_eq!(scheduled(Liquidation::Equal, 4, w, 3), Decimal::new(298350, 2));
        assert_eq!(scheduled(Liquidation::Equal, 4, w, 9), w);
        assert_eq!(scheduled(Liquidation::Deadline, 4, w, 3), Decimal::ZERO);
        assert_eq!(scheduled(Liquidation::Deadline, 4, w, 4), w);
    }

    #[test]
    fn release_names_its_tranche() {
        assert_eq!(named_period("Reserve release 2024-H1 (2/4)").as_deref(), Some("2024-H1"));
        assert_eq!(named_period("Reserve liquidation").as_deref(), None);
    }

    #[test]
    fn periods_between_halves() {
        let h1 = Period::half(2023, 1).unwrap();
        let h2 = Period::half(2024, 2).unwrap();
        assert_eq!(periods_between(&h1, &h2, 6), 3);
    }
}
