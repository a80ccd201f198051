//! Currency (rules F1, F2, domain.md §5.5): the rate a statement used to convert a foreign
//! amount, against the contract's reference rates (sale-month average or period end).
//! Only adverse variances are claimed; an inverted rate (≈ 1/reference) is a currency error.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::contract::FxBasis;
use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LineKind, Period};

fn n(v: Decimal) -> String {
    v.normalize().to_string()
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let lines: Vec<_> = ctx
        .statement
        .iter()
        .filter(|l| l.line_kind == LineKind::Income && l.details().original_amount.is_some() && l.details().original_currency.is_some_and(|oc| oc != l.currency))
        .collect();
    if lines.is_empty() {
        return;
    }
    let (Some(fx), Some(policy)) = (&c.fx_rates, &c.terms.fx) else {
        let mut f = Finding::not_checked(Rule::F1, &ctx.currency, "Statement lines were converted from other currencies but the contract names no reference rates ([fx] reference).")
            .key("contract", c.id());
        f.evidence = lines.iter().map(|l| l.source.clone()).collect();
        out.push(f);
        return;
    };
    let clause = c.section_clause("[fx]", policy.span());
    let basis = policy.get_ref().basis;
    let mut groups: BTreeMap<(Rule, Option<Period>, String), Finding> = BTreeMap::new();
    let mut missing = Vec::new();
    for l in lines {
        let (Some(orig), Some(oc)) = (l.details().original_amount, l.details().original_currency) else { continue };
        let converted = l.royalty.or(l.net).unwrap_or_default();
        let Some(implied) = l.details().fx_rate.or_else(|| if orig.is_zero() { None } else { Some(converted / orig) }) else { continue };
        let reference = match basis {
            FxBasis::SaleMonthAverage => l.sale_period.or(l.accounting_period).and_then(|p| fx.rate_average(oc, l.currency, &p)),
            FxBasis::PeriodEnd => Ctx::period_of(l).and_then(|p| fx.rate_on(oc, l.currency, p.end)),
        };
        let Some(reference) = reference else {
            missing.push(l.source.clone());
            continue;
        };
        let variance = (implied - reference) / reference;
        let inverted = ((implied * reference) - Decimal::ONE).abs() <= ctx.fx_tol;
        if variance.abs() <= ctx.fx_tol && !inverted {
            continue;
        }
        let rule = if inverted && variance.abs() > ctx.fx_tol { Rule::F2 } else { Rule::F1 };
        let claim = orig * (reference - implied);
        let period = Ctx::period_of(l);
        let f = groups.entry((rule, period, oc.code().to_string())).or_insert_with(|| {
            let mut f = Finding::new(rule, Severity::Claim, &ctx.currency)
                .key("contract", c.id())
                .key("currency", format!("{}→{}", oc.code(), l.currency.code()))
                .key("statement_period", period.map(|p| p.to_string()).unwrap_or_default());
            f.period = period;
            f.clause = clause.clone();
            f.expected = Some(Decimal::ZERO);
            f.reported = Some(Decimal::ZERO);
            f
        });
        f.royalty_effect += claim;
        f.account_effect += claim;
        *f.expected.get_or_insert(Decimal::ZERO) += orig * reference;
        *f.reported.get_or_insert(Decimal::ZERO) += orig * implied;
        f.evidence.push(l.source.clone());
        f.trail.push(format!(
            "{} row {}: {} {} at {} (reference {}, {} by {:?}) → difference {}",
            l.source.file,
            l.source.row,
            n(orig),
            oc.code(),
            n(implied.round_dp(6)),
            n(reference.round_dp(6)),
            fx.source,
            basis,
            n(claim.round_dp(6))
        ));
    }
    for (_, mut f) in groups {
        f.difference = f.expected.zip(f.reported).map(|(e, r)| e - r);
        if f.royalty_effect <= Decimal::ZERO {
            f.severity = Severity::Overstatement;
        }
        let pct = ctx.fx_tol * Decimal::ONE_HUNDRED;
        f.explanation = if f.rule == Rule::F2 {
            format!("The rate used is the inverse of the reference rate on {} line(s): the currency pair was turned around.", f.evidence.len())
        } else {
            format!("The conversion rate used differs from the reference by more than {}% on {} line(s).", n(pct), f.evidence.len())
        };
        out.push(f);
    }
    if !missing.is_empty() {
        let mut f = Finding::not_checked(Rule::F1, &ctx.currency, format!("{} converted line(s) have no reference rate for their date in the reference file.", missing.len()))
            .key("contract", c.id())
            .key("reason", "no reference rate");
        f.evidence = missing;
        out.push(f);
    }
}
