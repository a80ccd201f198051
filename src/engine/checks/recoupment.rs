//! Recoupment (rules D1–D7): balance arithmetic, continuity, what may be charged and at
//! what percentage, invoices, advances against the contract, crossing between accounts,
//! and payments not made.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use crate::contract::pct;
use crate::engine::account::{payable, roll_forward, PeriodAccount};
use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LedgerLine, LineKind, SourceRef};

fn n(v: Decimal) -> String {
    v.normalize().to_string()
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let accounts = roll_forward(ctx);
    balances(ctx, &accounts, out);
    charges(ctx, out);
    crossing(ctx, out);
}

fn balances(ctx: &Ctx, accounts: &[PeriodAccount], out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let mut prev: Option<&PeriodAccount> = None;
    for pa in accounts {
        let same_account = prev.is_some_and(|p| p.account == pa.account);
        // A3 footing errors only cost money when the balance follows the wrong total; when
        // the closing follows the lines, the footer is a typo and the A3 finding carries none.
        if let Some(reported) = pa.closing_reported
            && (pa.closing_computed - reported).abs() <= ctx.amount_tol
        {
            for f in out.iter_mut().filter(|f| f.rule == Rule::A3 && f.period == pa.period && f.severity != Severity::Info) {
                f.severity = Severity::Info;
                f.royalty_effect = Decimal::ZERO;
                f.account_effect = Decimal::ZERO;
                f.explanation.push_str(" The closing balance follows the lines, so the wrong total cost nothing.");
            }
        }
        let footing: BTreeMap<Option<crate::ledger::Period>, Decimal> = out
            .iter()
            .filter(|f| f.rule == Rule::A3)
            .fold(BTreeMap::new(), |mut m, f| {
                *m.entry(f.period).or_default() += f.account_effect;
                m
            });
        // D1: the period's own arithmetic.
        if let Some(reported) = pa.closing_reported {
            let computed = pa.closing_computed;
            let diff = computed - reported - footing.get(&pa.period).copied().unwrap_or_default();
            if diff.abs() > ctx.amount_tol {
                let mut f = Finding::new(Rule::D1, if diff > Decimal::ZERO { Severity::Claim } else { Severity::Overstatement }, &ctx.currency)
                    .key("contract", c.id())
                    .key("account", &pa.account)
                    .key("statement_period", pa.period.map(|p| p.to_string()).unwrap_or_default())
                    .figures(computed, reported);
                f.period = pa.period;
                f.account_effect = diff;
                f.evidence = pa.closing_ref.iter().cloned().chain(pa.opening_ref.iter().cloned()).collect();
                f.trail = vec![
                    format!("opening {}", pa.opening.map(n).unwrap_or_else(|| "(none)".into())),
                    format!("+ royalties credited {}", n(pa.credits)),
                    format!("+ charges {}", n(pa.charges)),
                    format!("+ reserves withheld {} + released {}", n(pa.reserves_withheld), n(pa.reserves_released)),
                    format!("+ payments {} + adjustments {}", n(pa.payments), n(pa.adjustments)),
                    format!("= {} against the stated closing {}", n(computed), n(reported)),
                ];
                f.explanation = format!("The closing balance does not follow from the statement's own lines: {} computed, {} stated.", n(computed), n(reported));
                out.push(f);
            }
        }
        // D2: continuity with the previous statement.
        if same_account
            && let (Some(p), Some(opening)) = (prev, pa.opening)
        {
            let carried = p.closing();
            let diff = carried - opening;
            if diff.abs() > ctx.amount_tol {
                let mut f = Finding::new(Rule::D2, if diff > Decimal::ZERO { Severity::Claim } else { Severity::Overstatement }, &ctx.currency)
                    .key("contract", c.id())
                    .key("account", &pa.account)
                    .key("statement_period", pa.period.map(|p| p.to_string()).unwrap_or_default())
                    .figures(carried, opening);
                f.period = pa.period;
                f.account_effect = diff;
                f.evidence = p.closing_ref.iter().cloned().chain(pa.opening_ref.iter().cloned()).collect();
                f.explanation = format!(
                    "The opening balance {} is not the previous closing balance {} ({}).",
                    n(opening),
                    n(carried),
                    p.period.map(|p| p.to_string()).unwrap_or_default()
                );
                out.push(f);
            }
        }
        // D7: a payable balance brought forward and not paid.
        if same_account
            && let Some(p) = prev.filter(|p| p.closing_reported.is_some())
        {
            let due = payable(ctx, p.closing());
            let paid = -pa.payments;
            if due > Decimal::ZERO && paid < due - ctx.amount_tol {
                let withheld = due - paid;
                let mut f = Finding::new(Rule::D7, Severity::Claim, &ctx.currency)
                    .key("contract", c.id())
                    .key("account", &pa.account)
                    .key("statement_period", p.period.map(|p| p.to_string()).unwrap_or_default())
                    .figures(due, paid);
                f.period = p.period;
                f.cash_effect = withheld;
                f.cash_fixed = true;
                f.evidence = p.closing_ref.iter().cloned().chain(pa.first_ref.iter().cloned()).collect();
                f.clause = "[contract] minimum_payment".into();
                f.explanation = format!(
                    "The {} statement closed at {} payable, but only {} was paid on the next statement.",
                    p.period.map(|p| p.to_string()).unwrap_or_default(),
                    n(due),
                    n(paid)
                );
                out.push(f);
            }
        }
        prev = Some(pa);
    }
}

fn charge_amount(l: &LedgerLine) -> Decimal {
    -l.amount.unwrap_or_default()
}

fn charges(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let charges: Vec<&LedgerLine> = ctx.statement.iter().copied().filter(|l| l.line_kind == LineKind::Charge).collect();
    if charges.is_empty() {
        return;
    }
    let Some(recoupable) = &c.terms.recoupable else {
        let mut f = Finding::not_checked(Rule::D3, &ctx.currency, "The contract lists no recoupable costs ([recoupable]); charges cannot be checked.").key("contract", c.id());
        f.evidence = charges.iter().map(|l| l.source.clone()).collect();
        out.push(f);
        return;
    };
    let clause = c.section_clause("[recoupable]", recoupable.span());
    let refs_in_use = charges.iter().any(|l| l.details().reference.is_some());
    let mut by_ref: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    let mut no_invoice = Vec::new();
    for l in &charges {
        let kind = l.details().charge_kind.unwrap_or_else(|| "unspecified".into());
        let charged = charge_amount(l);
        let base = |rule: Rule| {
            let mut f = Finding::new(rule, Severity::Claim, &ctx.currency)
                .key("contract", c.id())
                .key("account", c.account_of(l).unwrap_or_default())
                .key("charge", format!("{} {}", kind, l.details().description.as_deref().unwrap_or("")).trim())
                .key("statement_period", Ctx::period_of(l).map(|p| p.to_string()).unwrap_or_default())
                .key("row", format!("{}:{}", l.source.file, l.source.row));
            f.period = Ctx::period_of(l);
            f.evidence.push(l.source.clone());
            f.clause = clause.clone();
            f
        };
        match recoupable.get_ref().0.get(kind.as_str()) {
            None => {
                if charged > Decimal::ZERO {
                    let mut f = base(Rule::D3).figures(Decimal::ZERO, charged);
                    f.account_effect = charged;
                    f.explanation = format!("'{}' ({kind}) is not a cost the contract allows to be recouped; {} was charged.", l.details().description.as_deref().unwrap_or(&kind), n(charged));
                    out.push(f);
                }
                continue;
            }
            Some(p) => match l.gross {
                Some(invoice) => {
                    let allowed = invoice * pct(*p);
                    if charged - allowed > ctx.tol(allowed) {
                        let mut f = base(Rule::D4).figures(allowed, charged);
                        f.account_effect = charged - allowed;
                        f.trail.push(format!("invoice {} × {}% = {} allowed; {} charged", n(invoice), n(*p), n(allowed), n(charged)));
                        f.explanation = format!("{kind} may be charged at {}% of the invoice ({}), but {} was charged.", n(*p), n(allowed), n(charged));
                        out.push(f);
                    }
                }
                None if *p < Decimal::ONE_HUNDRED => {
                    let mut f = Finding::not_checked(Rule::D4, &ctx.currency, format!("{kind} is recoupable at {}% but the statement shows no invoice amount for the charge.", n(*p)))
                        .key("contract", c.id())
                        .key("row", format!("{}:{}", l.source.file, l.source.row));
                    f.evidence.push(l.source.clone());
                    out.push(f);
                }
                None => {}
            },
        }
        match &l.details().reference {
            Some(r) => by_ref.entry(r.to_string()).or_default().push(l),
            None if refs_in_use && charged > Decimal::ZERO => no_invoice.push(*l),
            None => {}
        }
    }
    for l in no_invoice {
        let charged = charge_amount(l);
        let mut f = Finding::new(Rule::D6, Severity::Claim, &ctx.currency)
            .key("contract", c.id())
            .key("row", format!("{}:{}", l.source.file, l.source.row))
            .figures(Decimal::ZERO, charged);
        f.title = "Unsupported charge (no invoice)".into();
        f.period = Ctx::period_of(l);
        f.account_effect = charged;
        f.evidence.push(l.source.clone());
        f.clause = clause.clone();
        f.explanation = format!("'{}' ({}) carries no invoice reference while the statement's other charges do.", l.details().description.as_deref().unwrap_or(""), n(charged));
        out.push(f);
    }
    for (reference, lines) in by_ref.into_iter().filter(|(_, v)| v.len() > 1) {
        // Identical repeats are A1; here the same invoice charged under different lines.
        let distinct: BTreeSet<(Option<Decimal>, Option<String>)> = lines.iter().map(|l| (l.amount, l.details().description.as_ref().map(|d| d.to_string()))).collect();
        if distinct.len() < 2 {
            continue;
        }
        let extra: Decimal = lines[1..].iter().map(|l| charge_amount(l)).sum();
        let mut f = Finding::new(Rule::D6, Severity::Claim, &ctx.currency).key("contract", c.id()).key("invoice", &reference);
        f.title = "Invoice charged twice".into();
        f.period = Ctx::period_of(lines[lines.len() - 1]);
        f.account_effect = extra;
        f.difference = Some(extra);
        f.evidence = lines.iter().map(|l| l.source.clone()).collect();
        f.clause = clause.clone();
        f.explanation = format!("Invoice {reference} is charged on {} lines; the repeats add {}.", lines.len(), n(extra));
        out.push(f);
    }
    advances(ctx, &charges, out);
}

/// D6: advances charged beyond the advances the contract provides.
fn advances(ctx: &Ctx, charges: &[&LedgerLine], out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let adv: Vec<&&LedgerLine> = charges.iter().filter(|l| l.details().charge_kind.as_deref() == Some("advance")).collect();
    if adv.is_empty() {
        return;
    }
    if c.terms.advances.is_empty() {
        let mut f = Finding::not_checked(Rule::D6, &ctx.currency, "Advances are charged but the contract lists none ([[advances]]); their amounts cannot be checked.").key("contract", c.id());
        f.evidence = adv.iter().map(|l| l.source.clone()).collect();
        out.push(f);
        return;
    }
    let allowed: Decimal = c.terms.advances.iter().map(|a| a.get_ref().amount).sum();
    let charged: Decimal = adv.iter().map(|l| charge_amount(l)).sum();
    if charged - allowed > ctx.amount_tol {
        let last = adv.iter().filter_map(|l| Ctx::period_of(l)).max();
        let mut f = Finding::new(Rule::D6, Severity::Claim, &ctx.currency).key("contract", c.id()).key("charge", "advances").figures(allowed, charged);
        f.title = "Advances above the contract amount".into();
        f.period = last;
        f.account_effect = charged - allowed;
        f.evidence = adv.iter().map(|l| l.source.clone()).collect();
        f.clause = c.terms.advances.first().map(|a| c.section_clause("[[advances]]", a.span())).unwrap_or_default();
        f.explanation = format!("Advances of {} were charged; the contract provides {}.", n(charged), n(allowed));
        out.push(f);
    }
}

/// D5: one statement account pooling contract accounts the contract keeps apart.
fn crossing(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    if c.terms.accounts.len() < 2 {
        return;
    }
    let mut per_statement: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    for l in &ctx.statement {
        per_statement.entry(crate::engine::account::statement_account(ctx, l.account.as_deref())).or_default().push(l);
    }
    for (stmt, lines) in per_statement {
        let mut net: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut refs: Vec<SourceRef> = Vec::new();
        let mut last = None;
        for l in &lines {
            let delta = match l.line_kind {
                LineKind::Income => l.royalty.unwrap_or_default(),
                LineKind::Charge | LineKind::Adjustment | LineKind::ReserveWithheld | LineKind::ReserveReleased => l.amount.unwrap_or_default(),
                _ => continue,
            };
            let Some(a) = c.account_of(l) else { continue };
            *net.entry(a).or_default() += delta;
            if l.line_kind == LineKind::Charge {
                refs.push(l.source.clone());
            }
            let p = Ctx::period_of(l);
            if last.is_none_or(|q| p.is_some_and(|p| p > q)) {
                last = p;
            }
        }
        if net.len() < 2 {
            continue;
        }
        let pooled: Decimal = net.values().sum();
        let mut separate = net.clone();
        for e in &c.terms.cross_collateralisation {
            let e = e.get_ref();
            let (y, x) = (separate.get(&e.credits_of).copied().unwrap_or_default(), separate.get(&e.may_recoup).copied().unwrap_or_default());
            if y > Decimal::ZERO && x < Decimal::ZERO {
                let t = y.min(-x);
                *separate.entry(e.credits_of.clone()).or_default() -= t;
                *separate.entry(e.may_recoup.clone()).or_default() += t;
            }
        }
        let separate_payable: Decimal = separate.values().map(|v| payable(ctx, *v)).sum();
        let pooled_payable = payable(ctx, pooled);
        let diff = separate_payable - pooled_payable;
        if diff > ctx.amount_tol {
            let mut f = Finding::new(Rule::D5, Severity::Claim, &ctx.currency).key("contract", c.id()).key("statement_account", &stmt).figures(separate_payable, pooled_payable);
            f.period = last;
            f.cash_effect = diff;
            f.cash_fixed = true;
            f.evidence = refs;
            f.clause = if c.terms.cross_collateralisation.is_empty() {
                "[[accounts]] (no cross-collateralisation listed)".into()
            } else {
                c.section_clause("[[cross_collateralisation]]", c.terms.cross_collateralisation[0].span())
            };
            f.trail = net.iter().map(|(a, v)| format!("account {a}: credits less charges {}", n(*v))).collect();
            f.trail.push(format!("kept apart as the contract says: payable {}; pooled: {}", n(separate_payable), n(pooled_payable)));
            f.explanation = format!("Statement account {stmt} pools contract accounts the contract does not cross; kept apart they would have paid {} more.", n(diff));
            out.push(f);
        }
    }
}
