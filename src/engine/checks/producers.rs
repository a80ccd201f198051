//! Producer and mixer points (rule C9, domain.md §3). A producer's royalty is their points
//! on the artist's royalty base, reduced in the same proportions (the line recomputation's
//! base amount), prorated by tracks produced. It is payable from record one, either at once
//! or — with a recoupment trigger — retroactively once recording costs are recouped at the
//! combined (all-in) or the net artist rate; the producer's advance is recouped from the
//! producer's own royalties only.
//!
//! Producer cash is read from the audited statements: charges of kind `producer_payment`
//! (all-in accounting: the label pays the producer and charges the artist) and payments to
//! the producer as payee.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::contract::{pct, Contract, Producer, Trigger};
use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LedgerLine, LineKind, Period, SourceRef};

fn n(v: Decimal) -> String {
    v.normalize().to_string()
}

/// The share of a line's base this producer is paid on (0 when not their record).
pub fn proration(c: &Contract, p: &Producer, line: &LedgerLine) -> Decimal {
    let on_isrc = line.isrc.as_ref().is_some_and(|i| p.isrcs.iter().any(|x| crate::ledger::ids::parse_isrc(x).is_ok_and(|x| x == *i)));
    if on_isrc {
        return Decimal::ONE;
    }
    let on_release = c.release_of(line).is_some_and(|r| p.releases.contains(&r.id));
    if !on_release {
        return Decimal::ZERO;
    }
    if !p.isrcs.is_empty() && line.isrc.is_some() {
        return Decimal::ZERO;
    }
    match (p.tracks_produced, p.tracks_total) {
        (Some(a), Some(b)) if b > 0 && line.isrc.is_none() => Decimal::from(a) / Decimal::from(b),
        _ => Decimal::ONE,
    }
}

/// Producer points (percent) on a line, all producers together, after proration.
pub fn points_on(c: &Contract, line: &LedgerLine) -> Decimal {
    c.terms
        .producers
        .iter()
        .map(|p| {
            let p = p.get_ref();
            (p.points - p.mixer_reduction_points) * proration(c, p, line)
        })
        .sum()
}

fn is_paid_to(p: &Producer, single: bool, l: &LedgerLine) -> bool {
    let name = p.name.to_lowercase();
    let mentions = |s: Option<&str>| s.is_some_and(|t| t.to_lowercase().contains(&name));
    match l.line_kind {
        LineKind::Charge => {
            matches!(l.details().charge_kind.as_deref(), Some("producer_payment") | Some("producer_royalty"))
                && (single || mentions(l.details().description.as_deref()) || mentions(l.payee.as_deref()))
        }
        LineKind::Payment => mentions(l.payee.as_deref()),
        _ => false,
    }
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let single = c.terms.producers.len() == 1;
    for (pi, spanned) in c.terms.producers.iter().enumerate() {
        let p = spanned.get_ref();
        let clause = c.section_clause(&format!("[[producers]] {}", p.name), spanned.span());
        let _ = pi;
        // Per period: producer royalty, all-in credits, net credits on the producer's records.
        let mut per: BTreeMap<Option<Period>, (Decimal, Decimal, Decimal, Vec<SourceRef>)> = BTreeMap::new();
        let mut net_presented = Vec::new();
        for calc in ctx.calcs().iter().filter(|k| k.problem().is_none()) {
            let line = ctx.statement[calc.idx];
            let share = proration(c, p, line);
            if share.is_zero() {
                continue;
            }
            let royalty = calc.base_amount * pct(p.points - p.mixer_reduction_points) * share;
            let e = per.entry(calc.period).or_default();
            e.0 += royalty;
            e.1 += calc.expected + if calc.net_presentation { royalty } else { Decimal::ZERO };
            e.2 += calc.expected - if calc.net_presentation { Decimal::ZERO } else { royalty };
            e.3.push(line.source.clone());
            if calc.net_presentation {
                net_presented.push(line.source.clone());
            }
        }
        if per.is_empty() {
            continue;
        }
        // Recording costs for the test: the contract's figure, else the statements' charges.
        let mut costs_by_period: BTreeMap<Option<Period>, Decimal> = BTreeMap::new();
        let mut paid: BTreeMap<Option<Period>, (Decimal, Vec<SourceRef>)> = BTreeMap::new();
        let mut advance_charged = Vec::new();
        for l in &ctx.statement {
            let period = Ctx::period_of(l);
            if l.line_kind == LineKind::Charge && l.details().charge_kind.as_deref() == Some("recording_cost") {
                *costs_by_period.entry(period).or_default() += -l.amount.unwrap_or_default();
            }
            if l.line_kind == LineKind::Charge
                && (l.details().charge_kind.as_deref() == Some("producer_advance")
                    || l.details().description.as_ref().is_some_and(|d| d.to_lowercase().contains("producer advance")))
            {
                advance_charged.push(*l);
            }
            if is_paid_to(p, single, l) {
                let e = paid.entry(period).or_default();
                e.0 += l.amount.unwrap_or_default().abs();
                e.1.push(l.source.clone());
            }
        }
        // Credited net of the points on every line: the producer is paid outside the artist's
        // account and the artist statement cannot show whether they were.
        let all_net = per.values().map(|v| v.3.len()).sum::<usize>() == net_presented.len();
        let mut periods: Vec<Option<Period>> = if all_net { Vec::new() } else { per.keys().chain(paid.keys()).copied().collect() };
        periods.sort();
        periods.dedup();
        let (mut cum_royalty, mut cum_allin, mut cum_net, mut cum_costs) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let (mut paid_cum, mut reported_gap) = (Decimal::ZERO, Decimal::ZERO);
        let mut recouped_in: Option<Option<Period>> = None;
        let mut open_shortfalls: Vec<(usize, Decimal)> = Vec::new();
        for period in periods {
            let (r, allin, net, refs) = per.get(&period).cloned().unwrap_or_default();
            cum_royalty += r;
            cum_allin += allin;
            cum_net += net;
            cum_costs += costs_by_period.get(&period).copied().unwrap_or_default();
            let test_costs = p.test_costs.unwrap_or(cum_costs) - if p.test_costs_include_advance { Decimal::ZERO } else { p.advance };
            let triggered = match p.trigger {
                Trigger::RecordOne => true,
                Trigger::RecoupmentCombined => cum_allin >= test_costs,
                Trigger::RecoupmentNet => cum_net >= test_costs,
            };
            let mut trail = vec![format!(
                "{}: producer royalty {} (cumulative {}); recoupment test {:?}: credits {} against costs {} → {}",
                period.map(|p| p.to_string()).unwrap_or_default(),
                n(r),
                n(cum_royalty),
                p.trigger,
                n(match p.trigger {
                    Trigger::RecoupmentNet => cum_net,
                    _ => cum_allin,
                }),
                n(test_costs),
                if triggered { "payable" } else { "not yet recouped" }
            )];
            if triggered && recouped_in.is_none() {
                recouped_in = Some(period);
                if p.trigger != Trigger::RecordOne {
                    trail.push(format!("recouped in this period: retroactive to record one, less the advance {}", n(p.advance)));
                }
            }
            let new_due_cum = if triggered { (cum_royalty - p.advance).max(Decimal::ZERO) } else { Decimal::ZERO };
            let (cash, mut paid_refs) = paid.get(&period).cloned().unwrap_or_default();
            paid_cum += cash;
            let due_cum = new_due_cum;
            let gap = due_cum - paid_cum;
            let (under_before, under_now) = (reported_gap.max(Decimal::ZERO), gap.max(Decimal::ZERO));
            let (over_before, over_now) = ((-reported_gap).max(Decimal::ZERO), (-gap).max(Decimal::ZERO));
            // A later payment that makes up an earlier shortfall cures it, oldest first.
            let mut cure = (under_before - under_now).max(Decimal::ZERO);
            for (i, left) in open_shortfalls.iter_mut() {
                if cure <= Decimal::ZERO {
                    break;
                }
                let take = cure.min(*left);
                *left -= take;
                cure -= take;
                let f: &mut Finding = &mut out[*i];
                f.cash_effect -= take;
                f.royalty_effect -= take;
                f.trail.push(format!("{} of it paid in {}", n(take), period.map(|p| p.to_string()).unwrap_or_default()));
                if f.cash_effect <= ctx.amount_tol {
                    f.severity = Severity::Info;
                    f.title = "Producer paid late".into();
                    f.explanation.push_str(&format!(" It was paid in {}.", period.map(|p| p.to_string()).unwrap_or_default()));
                }
            }
            let step = if under_now > under_before { under_now - under_before } else { -(over_now - over_before).max(Decimal::ZERO) };
            if step.abs() > ctx.amount_tol {
                let expected_now = step + cash;
                let mut f = Finding::new(Rule::C9, Severity::Claim, &ctx.currency)
                    .key("contract", c.id())
                    .key("producer", &p.name)
                    .key("statement_period", period.map(|p| p.to_string()).unwrap_or_default())
                    .figures(expected_now, cash);
                f.period = period;
                f.clause = clause.clone();
                f.evidence = refs.clone();
                f.evidence.append(&mut paid_refs);
                f.trail = trail;
                f.trail.push(format!("due to date {}; paid to date {}", n(due_cum), n(paid_cum)));
                if step > Decimal::ZERO {
                    f.title = if p.trigger != Trigger::RecordOne && recouped_in == Some(period) {
                        "Producer not paid after recoupment".into()
                    } else {
                        "Producer royalty underpaid".into()
                    };
                    f.payee = Some(p.name.clone());
                    open_shortfalls.push((out.len(), step));
                    f.royalty_effect = step;
                    f.cash_effect = step;
                    f.cash_fixed = true;
                    f.explanation = format!(
                        "{} was due {} more in {} ({} points{}); under all-in accounting paying it is charged to the artist's account.",
                        p.name,
                        n(step),
                        period.map(|p| p.to_string()).unwrap_or_default(),
                        n(p.points),
                        if p.trigger == Trigger::RecordOne { String::new() } else { format!(", {:?} test", p.trigger) }
                    );
                } else {
                    // Paid before it was due or beyond the points: charged to the artist.
                    f.title = "Producer paid more than due, charged to the artist".into();
                    f.account_effect = -step;
                    f.royalty_effect = Decimal::ZERO;
                    f.explanation = format!(
                        "{} was paid {} more than the contract makes due by {} and the artist's account bears it.",
                        p.name,
                        n(-step),
                        period.map(|p| p.to_string()).unwrap_or_default()
                    );
                }
                out.push(f);
            }
            reported_gap = gap;
        }
        // Net presentation with the producer's advance (or payments) also charged: paid twice.
        if !net_presented.is_empty() {
            let double: Vec<&LedgerLine> = advance_charged.into_iter().collect();
            let charged: Decimal = double.iter().map(|l| -l.amount.unwrap_or_default()).sum();
            if charged > ctx.amount_tol {
                let claim = charged.min(if p.advance.is_zero() { charged } else { p.advance });
                let mut f = Finding::new(Rule::C9, Severity::Claim, &ctx.currency)
                    .key("contract", c.id())
                    .key("producer", &p.name)
                    .key("issue", "advance double-recovered")
                    .figures(Decimal::ZERO, claim);
                f.title = "Producer advance double-recovered".into();
                f.period = double.iter().filter_map(|l| Ctx::period_of(l)).max();
                f.account_effect = claim;
                f.clause = clause.clone();
                f.evidence = double.iter().map(|l| l.source.clone()).collect();
                f.explanation = format!(
                    "The artist is credited at the net rate (after {}'s points) and is also charged the producer's advance of {}: the artist pays it twice.",
                    p.name,
                    n(claim)
                );
                out.push(f);
            }
        }
    }
}
