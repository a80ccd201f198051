//! Timing, interest and audit scope (rules G1–G4). G2 and G3 are applied to every other
//! finding once its cash effect is known ([`finalize`]).

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::contract::pct;
use crate::engine::account::{payable, roll_forward};
use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};

fn n(v: Decimal) -> String {
    v.normalize().to_string()
}

/// Simple interest, rounded to the currency's minor unit (half away from zero), as a claim
/// schedule states it: principal × rate × days / 365.
pub fn simple_interest(principal: Decimal, rate_pct: Decimal, from: NaiveDate, to: NaiveDate, minor_units: u32) -> Decimal {
    let days = (to - from).num_days();
    if days <= 0 || principal <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (principal * pct(rate_pct) * Decimal::from(days) / Decimal::from(365)).round_dp_with_strategy(minor_units, RoundingStrategy::MidpointAwayFromZero)
}

fn interest_rate(ctx: &Ctx) -> Option<Decimal> {
    ctx.contract.audit().and_then(|a| a.interest_rate_pct)
}

/// G1 and G4.
pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let periods = ctx.statement_periods();
    if periods.is_empty() {
        return;
    }
    let dates = ctx.statement_dates();
    match c.terms.contract.statement_due_days {
        None => out.push(
            Finding::not_checked(Rule::G1, &ctx.currency, "The contract gives no statement deadline ([contract] statement_due_days); late statements cannot be found.")
                .key("contract", c.id()),
        ),
        Some(days) => {
            let undated: Vec<String> = periods.iter().filter(|p| !dates.contains_key(p)).map(|p| p.to_string()).collect();
            if !undated.is_empty() {
                out.push(
                    Finding::not_checked(Rule::G1, &ctx.currency, format!("No statement date on the statements for {}; lateness cannot be checked.", undated.join(", ")))
                        .key("contract", c.id()),
                );
            }
            let accounts = roll_forward(ctx);
            for (p, issued) in dates {
                let Some(due) = ctx.due_date(p) else { continue };
                if issued <= &due {
                    continue;
                }
                let late_days = (*issued - due).num_days();
                let owed: Decimal = accounts.iter().filter(|a| a.period == Some(*p)).map(|a| payable(ctx, a.closing())).sum();
                let interest = interest_rate(ctx).map(|r| simple_interest(owed, r, due, *issued, c.currency.minor_units())).unwrap_or_default();
                let mut f = Finding::new(Rule::G1, if interest > Decimal::ZERO { Severity::Claim } else { Severity::Info }, &ctx.currency)
                    .key("contract", c.id())
                    .key("statement_period", p);
                f.period = Some(*p);
                f.interest = interest;
                f.due_date = Some(due);
                f.clause = "[contract] statement_due_days".into();
                f.evidence = ctx
                    .statement
                    .iter()
                    .filter(|l| Ctx::period_of(l) == Some(*p) && l.reporting_date == Some(*issued))
                    .take(1)
                    .map(|l| l.source.clone())
                    .collect();
                f.trail.push(format!("period ends {}; due {days} days later, {due}; issued {issued}: {late_days} days late", p.end));
                if interest > Decimal::ZERO {
                    f.trail.push(format!("interest on the payable {} for {late_days} days = {}", n(owed), n(interest)));
                }
                f.explanation = format!("The {p} statement was issued on {issued}, {late_days} days after it was due ({due}).");
                out.push(f);
            }
        }
    }
    // G4: audit frequency and scope.
    if let (Some(a), Some(claim)) = (c.audit(), ctx.claim_date) {
        for prev in &a.previous {
            let days = (claim - prev.date).num_days();
            if (0..365).contains(&days) {
                let mut f = Finding::new(Rule::G4, Severity::Info, &ctx.currency).key("contract", c.id()).key("previous_audit", prev.date);
                f.explanation = format!("A previous audit took place on {}, less than a year before this claim ({claim}); most contracts allow one audit a year.", prev.date);
                out.push(f);
            }
            for p in periods.iter().filter(|p| prev.periods.iter().any(|q| q == &p.to_string())) {
                let mut f = Finding::new(Rule::G4, Severity::Info, &ctx.currency).key("contract", c.id()).key("statement_period", p).key("previous_audit", prev.date);
                f.explanation = format!("The {p} statement was already audited on {}; most contracts allow each statement to be audited once.", prev.date);
                out.push(f);
            }
        }
        if let Some(years) = a.lookback_years {
            let horizon = claim.checked_sub_months(chrono::Months::new(years * 12)).unwrap_or(claim);
            let old: Vec<String> = periods.iter().filter(|p| p.end < horizon).map(|p| p.to_string()).collect();
            if !old.is_empty() {
                let mut f = Finding::new(Rule::G4, Severity::Info, &ctx.currency).key("contract", c.id()).key("lookback", years);
                f.explanation = format!("Statements for {} end before the {years}-year look-back ({horizon}).", old.join(", "));
                out.push(f);
            }
        }
    }
}

/// G2 and G3 on every finding: due dates, interest to the claim date, time bars.
pub fn finalize(ctx: &Ctx, findings: &mut Vec<Finding>) {
    let c = ctx.contract;
    let dates = ctx.statement_dates();
    let rate = interest_rate(ctx);
    let objection = c.audit().and_then(|a| a.objection_period_months);
    let mut need_rate = false;
    let mut need_claim_date = false;
    let mut need_due = false;
    let mut need_objection = false;
    for f in findings.iter_mut() {
        if f.rule == Rule::G1 || f.severity != Severity::Claim {
            continue;
        }
        let Some(period) = f.period else { continue };
        let due = ctx.due_date(&f.cash_period.unwrap_or(period));
        f.due_date = due;
        if due.is_none() {
            need_due = true;
        }
        if let Some(claim) = ctx.claim_date {
            let issued = dates.get(&period).copied().or(due);
            match (objection, issued) {
                (Some(months), Some(issued)) => {
                    let bar = issued.checked_add_months(chrono::Months::new(months)).unwrap_or(issued);
                    if bar < claim {
                        f.time_barred = true;
                        f.trail.push(format!("G3: statement of {issued} + {months} months objection period = {bar}, before the claim date {claim}"));
                    }
                }
                (None, _) => need_objection = true,
                _ => {}
            }
        }
        if f.cash_effect > Decimal::ZERO {
            match (rate, ctx.claim_date, due) {
                (Some(r), Some(claim), Some(due)) => {
                    f.interest = simple_interest(f.cash_effect, r, due, claim, c.currency.minor_units());
                    if f.interest > Decimal::ZERO {
                        f.trail.push(format!(
                            "G2: interest {} × {}% × {} days / 365 from {due} to {claim} = {}",
                            n(f.cash_effect),
                            n(r),
                            (claim - due).num_days(),
                            n(f.interest)
                        ));
                    }
                }
                (None, _, _) => need_rate = true,
                (_, None, _) => need_claim_date = true,
                _ => {}
            }
        }
    }
    let mut nc = |rule: Rule, why: &str| findings.push(Finding::not_checked(rule, &ctx.currency, why).key("contract", c.id()));
    if need_rate {
        nc(Rule::G2, "The contract gives no interest rate ([audit] interest_rate_pct); no interest is claimed.");
    }
    if need_claim_date {
        nc(Rule::G2, "No claim date (--claim-date or [audit] claim_date); interest and time bars are not computed.");
    }
    if need_due {
        nc(Rule::G2, "The contract gives no statement deadline ([contract] statement_due_days); due dates and interest are not computed.");
    }
    if need_objection {
        nc(Rule::G3, "The contract gives no objection period ([audit] objection_period_months); no finding is marked time-barred.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_g2_interest() {
        // domain.md §6.2 Example G2: $10,000.00 due 31 Mar 2023, claimed 31 Mar 2025, 9% simple.
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let i = simple_interest(Decimal::new(1_000_000, 2), Decimal::from(9), d(2023, 3, 31), d(2025, 3, 31), 2);
        assert_eq!(i, Decimal::new(180_247, 2));
        assert_eq!(simple_interest(Decimal::from(100), Decimal::from(9), d(2025, 1, 1), d(2024, 1, 1), 2), Decimal::ZERO);
    }
}
