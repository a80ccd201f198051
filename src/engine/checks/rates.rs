//! Rules A2 and C1–C8, C10, C11 from the line recomputation (`engine::royalty`): each part
//! of a line's gap becomes a finding, grouped by rule, account, period, term, territory
//! group, configuration and applied rate so a schedule reads like an auditor's.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};

fn pc(v: Decimal) -> String {
    format!("{}%", (v * Decimal::ONE_HUNDRED).round_dp(4).normalize())
}

/// Rule, account, period, term, territory group, configuration, applied rate.
type GroupKey = (Rule, String, String, String, String, String, String);

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let mut groups: BTreeMap<GroupKey, Finding> = BTreeMap::new();
    let mut unpriced: BTreeMap<String, Vec<crate::ledger::SourceRef>> = BTreeMap::new();
    for calc in ctx.calcs() {
        let line = ctx.statement[calc.idx];
        if let Some(why) = calc.problem() {
            unpriced.entry(why.to_string()).or_default().push(line.source.clone());
            continue;
        }
        for (rule, amount) in calc.components() {
            let account = c.account_of(line).unwrap_or_default();
            let period = calc.period.map(|p| p.to_string()).unwrap_or_default();
            let term = calc.term.map(|t| c.term_clause(t)).unwrap_or_default();
            let config = line.sale_type.as_deref().unwrap_or_default().to_string();
            let applied = calc.applied_rate.map(pc).unwrap_or_else(|| "not stated".into());
            // Rate findings are told apart by the rate applied; the others (price, packaging,
            // free goods, fees, escalation, arithmetic) are one finding per period and term.
            let by_rate = matches!(rule, Rule::C1 | Rule::C3 | Rule::C7 | Rule::C11);
            let (group_k, config_k, applied_k) =
                if by_rate { (calc.group.to_string(), config.clone(), applied.clone()) } else { (String::new(), String::new(), String::new()) };
            let key = (*rule, account.clone(), period.clone(), term.clone(), group_k.clone(), config_k.clone(), applied_k.clone());
            let f = groups.entry(key).or_insert_with(|| {
                let mut f = Finding::new(*rule, Severity::Claim, &ctx.currency)
                    .key("contract", c.id())
                    .key("account", &account)
                    .key("statement_period", &period)
                    .key("territory_group", &group_k)
                    .key("configuration", &config_k)
                    .key("applied_rate", &applied_k);
                f.period = calc.period;
                f.clause = term.clone();
                f.expected = Some(Decimal::ZERO);
                f.reported = Some(Decimal::ZERO);
                f
            });
            f.royalty_effect += *amount;
            f.account_effect += *amount;
            *f.expected.get_or_insert(Decimal::ZERO) += calc.expected;
            *f.reported.get_or_insert(Decimal::ZERO) += calc.reported;
            f.evidence.push(line.source.clone());
            f.trail.extend(calc.trail().iter().cloned());
            f.trail.push(format!("→ {:?} part of the gap: {}", rule, amount.normalize()));
            if by_rate && !f.keys.contains_key("expected_rate") {
                f.keys.insert("expected_rate".into(), pc(calc.expected_rate));
            }
        }
    }
    for (_, mut f) in groups {
        f.difference = f.expected.zip(f.reported).map(|(e, r)| e - r);
        if f.royalty_effect < Decimal::ZERO {
            f.severity = Severity::Overstatement;
        }
        let n = f.evidence.len();
        let rate_note = match (f.keys.get("applied_rate"), f.keys.get("expected_rate")) {
            (Some(a), Some(e)) => format!(" (applied {a}, contract {e})"),
            _ => String::new(),
        };
        f.explanation = match f.rule {
            Rule::A2 => format!("The statement's own figures (units × price × rate) do not give the royalty it credits on {n} line(s)."),
            Rule::C1 => format!("The rate applied{rate_note} is not the contract rate on {n} line(s)."),
            Rule::C2 => format!("The price used as royalty base is not the contract price on {n} line(s)."),
            Rule::C3 => format!("The territory reduction applied{rate_note} belongs to another territory group on {n} line(s)."),
            Rule::C4 => format!("A packaging deduction above what the contract allows was taken on {n} line(s)."),
            Rule::C5 => format!("Free goods above the contract's cap were excluded from royalties on {n} line(s)."),
            Rule::C6 => format!("Units past the escalation threshold were credited at the base rate{rate_note} on {n} line(s)."),
            Rule::C7 => format!("Licence income was credited below the contract share{rate_note} on {n} line(s)."),
            Rule::C8 => format!("Distribution fees beyond what the contract allows were deducted before the share on {n} line(s)."),
            Rule::C11 => format!("Sales were classified at a reduced price category or channel{rate_note} on {n} line(s)."),
            _ => format!("{} on {n} line(s).", f.title),
        };
        out.push(f);
    }
    for (why, evidence) in unpriced {
        let mut f = Finding::not_checked(Rule::C1, &ctx.currency, format!("{} line(s) could not be recomputed: {why}.", evidence.len()))
            .key("contract", c.id())
            .key("reason", &why);
        f.evidence = evidence;
        out.push(f);
    }
    rounding(ctx, out);
}

/// C10: lines each inside tolerance but short in the same direction.
fn rounding(ctx: &Ctx, out: &mut Vec<Finding>) {
    let mut per_period: BTreeMap<Option<crate::ledger::Period>, (Decimal, Vec<crate::ledger::SourceRef>, usize)> = BTreeMap::new();
    let calcs = ctx.calcs();
    for (i, calc) in calcs.iter().enumerate() {
        // (The source of the line a few ahead is prefetched: the lines are read in the order
        // of recomputation, which skips about a large statement.)
        if let Some(ahead) = calcs.get(i + 8).and_then(|c| ctx.statement.get(c.idx)) {
            crate::prefetch::prefetch(&ahead.source);
        }
        if !calc.within_tolerance || calc.problem().is_some() {
            continue;
        }
        let e = per_period.entry(calc.period).or_default();
        let gap = calc.expected - calc.reported;
        e.0 += gap;
        e.2 += 1;
        if gap > Decimal::ZERO {
            e.1.push(ctx.statement[calc.idx].source.clone());
        }
    }
    let statements = Decimal::from(per_period.len().max(1));
    let total: Decimal = per_period.values().map(|v| v.0).sum();
    if total > ctx.amount_tol * statements {
        let mut f = Finding::new(Rule::C10, Severity::Claim, &ctx.currency).key("contract", ctx.contract.id());
        for (period, (gap, evidence, n)) in per_period {
            f.trail.push(format!(
                "{}: {n} line(s) within tolerance, short by {} in total",
                period.map(|p| p.to_string()).unwrap_or_else(|| "(no period)".into()),
                gap.normalize()
            ));
            if gap > Decimal::ZERO {
                f.evidence.extend(evidence);
            }
            // The shortfall lands in each period's account.
            if f.period.is_none_or(|p| period.is_some_and(|q| q > p)) {
                f.period = period;
            }
        }
        f.royalty_effect = total;
        f.account_effect = total;
        f.difference = Some(total);
        f.clause = "tolerances (line amounts)".into();
        f.explanation = format!(
            "Lines each within tolerance are short in the same direction, {} in total across {} statement(s): a rounding or truncation bias.",
            total.normalize(),
            statements
        );
        out.push(f);
    }
}
