//! Distributor deals (domain.md §4): the payee's own distributor statements. Each line's
//! net should be gross × (1 − commission) × the payee's split share; a wrong share is an
//! incorrect-share finding (C1, the "rate" of a split deal), a larger cut a fee finding (C8).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::contract::{pct, Contract, DealKind};
use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LedgerLine, LineKind};

fn n(v: Decimal) -> String {
    v.normalize().to_string()
}

/// The payee's share of a line under the contract's splits (1 when none applies).
fn share(c: &Contract, line: &LedgerLine) -> (Decimal, String) {
    let payee = &c.terms.contract.payee;
    for s in &c.terms.splits {
        let sp = s.get_ref();
        let hit = sp.isrc.as_ref().is_some_and(|i| line.isrc.as_deref() == crate::ledger::ids::parse_isrc(i).ok().as_deref())
            || sp.release.as_ref().is_some_and(|r| c.release_of(line).is_some_and(|x| &x.id == r));
        if hit {
            let v = sp.shares.get(payee).copied().unwrap_or_default();
            return (pct(v), c.section_clause("[[splits]]", s.span()));
        }
    }
    (Decimal::ONE, String::new())
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    if c.terms.contract.kind != DealKind::Distribution {
        return;
    }
    let Some(dist) = &c.terms.distribution else {
        out.push(Finding::not_checked(Rule::C8, &ctx.currency, "A distribution deal without [distribution] commission_pct; distributor lines cannot be recomputed.").key("contract", c.id()));
        return;
    };
    let commission = pct(dist.get_ref().commission_pct);
    let dist_clause = c.section_clause("[distribution]", dist.span());
    let mut groups: BTreeMap<(Rule, Option<String>, String), Finding> = BTreeMap::new();
    let mut no_gross = Vec::new();
    for l in ctx.statement.iter().filter(|l| l.line_kind == LineKind::Income) {
        let (Some(gross), Some(net)) = (l.gross, l.net) else {
            no_gross.push(l.source.clone());
            continue;
        };
        let (sh, split_clause) = share(c, l);
        let expected = gross * (Decimal::ONE - commission) * sh;
        let diff = expected - net;
        if diff.abs() <= ctx.tol(expected) {
            continue;
        }
        let mut parts = Vec::new();
        if let Some(applied) = l.details().split_pct.filter(|a| *a != sh) {
            let part = gross * (Decimal::ONE - commission) * (sh - applied);
            parts.push((Rule::C1, part, split_clause.clone(), format!("split {} applied, contract {}", n(applied * Decimal::ONE_HUNDRED), n(sh * Decimal::ONE_HUNDRED))));
            parts.push((Rule::C8, diff - part, dist_clause.clone(), "commission".into()));
        } else {
            parts.push((Rule::C8, diff, dist_clause.clone(), "commission".into()));
        }
        for (rule, part, clause, what) in parts {
            if part.abs() <= ctx.amount_tol {
                continue;
            }
            let period = Ctx::period_of(l);
            let f = groups.entry((rule, period.map(|p| p.to_string()), clause.clone())).or_insert_with(|| {
                let mut f = Finding::new(rule, Severity::Claim, &ctx.currency).key("contract", c.id()).key("statement_period", period.map(|p| p.to_string()).unwrap_or_default());
                if rule == Rule::C1 {
                    f.title = "Split share mismatch".into();
                }
                f.period = period;
                f.clause = clause;
                f
            });
            f.royalty_effect += part;
            f.account_effect += part;
            f.evidence.push(l.source.clone());
            f.trail.push(format!(
                "{} row {}: gross {} × (1 − {}% commission) × share {}% = {}; net paid {} ({what}) → {}",
                l.source.file,
                l.source.row,
                n(gross),
                n(commission * Decimal::ONE_HUNDRED),
                n(sh * Decimal::ONE_HUNDRED),
                n(expected),
                n(net),
                n(part)
            ));
        }
    }
    for (_, mut f) in groups {
        if f.royalty_effect < Decimal::ZERO {
            f.severity = Severity::Overstatement;
        }
        f.difference = Some(f.royalty_effect);
        f.explanation = if f.rule == Rule::C1 {
            format!("The distributor applied a split share other than the contract's on {} line(s).", f.evidence.len())
        } else {
            format!("The distributor's cut is more than its {}% commission on {} line(s).", n(commission * Decimal::ONE_HUNDRED), f.evidence.len())
        };
        out.push(f);
    }
    if !no_gross.is_empty() {
        let mut f = Finding::not_checked(Rule::C8, &ctx.currency, format!("{} distributor line(s) show no gross amount; commission and splits cannot be recomputed.", no_gross.len()))
            .key("contract", c.id());
        f.evidence = no_gross;
        out.push(f);
    }
}
