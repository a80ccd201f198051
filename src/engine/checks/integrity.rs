//! Data integrity (rules A1, A3, A4 and the statement-gap part of A5).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LedgerLine, LineFlag, LineKind, Period, SourceRef, StatementKind};

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    duplicates(ctx, out);
    footing(ctx, out);
    identifiers(ctx, out);
    statement_gaps(ctx, out);
}

fn dec(v: Option<Decimal>) -> String {
    v.map(|d| d.normalize().to_string()).unwrap_or_default()
}

/// What makes two sales lines the same: product, store, offering, territory, sale period,
/// sale type, units and the amount.
fn sale_key(l: &LedgerLine, amount: Option<Decimal>) -> String {
    [
        l.isrc.as_deref().or(l.upc.as_deref()).unwrap_or_default().to_string(),
        l.store.as_deref().unwrap_or_default().to_string(),
        l.offering.as_deref().unwrap_or_default().to_string(),
        l.territory.as_ref().map(|t| t.code().to_string()).unwrap_or_default(),
        l.sale_period.map(|p| p.to_string()).unwrap_or_default(),
        l.sale_type.as_deref().unwrap_or_default().to_string(),
        dec(l.units),
        dec(amount),
    ]
    .join("|")
}

/// A1: the same line twice, within or across statements.
fn duplicates(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let mut income: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    let mut charges: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    for l in &ctx.statement {
        match l.line_kind {
            LineKind::Income => income.entry(sale_key(l, l.royalty)).or_default().push(l),
            LineKind::Charge => {
                let key = [
                    l.details().charge_kind.as_deref().unwrap_or_default().to_string(),
                    dec(l.amount),
                    l.details().reference.as_deref().unwrap_or_default().to_string(),
                    l.details().description.as_deref().unwrap_or_default().to_string(),
                    c.account_of(l).unwrap_or_default(),
                ]
                .join("|");
                charges.entry(key).or_default().push(l);
            }
            _ => {}
        }
    }
    for (key, lines) in income.into_iter().filter(|(_, v)| v.len() > 1) {
        let extra: Decimal = lines[1..].iter().map(|l| l.royalty.unwrap_or_default()).sum();
        let mut f = Finding::new(Rule::A1, Severity::Overstatement, &ctx.currency).key("contract", c.id()).key("line", key.replace('|', " ").trim());
        f.title = "Duplicate income line".into();
        f.period = Ctx::period_of(lines[lines.len() - 1]);
        f.royalty_effect = -extra;
        f.account_effect = -extra;
        f.evidence = lines.iter().map(|l| l.source.clone()).collect();
        f.explanation = format!("The same income line is credited {} times; the repeats overstate royalties by {}.", lines.len(), extra.normalize());
        out.push(f);
    }
    for (key, lines) in charges.into_iter().filter(|(_, v)| v.len() > 1) {
        let extra: Decimal = lines[1..].iter().map(|l| -l.amount.unwrap_or_default()).sum();
        let mut f = Finding::new(Rule::A1, Severity::Claim, &ctx.currency).key("contract", c.id()).key("charge", key.replace('|', " ").trim());
        f.title = "Duplicate charge".into();
        f.period = Ctx::period_of(lines[lines.len() - 1]);
        f.account_effect = extra;
        f.difference = Some(extra);
        f.evidence = lines.iter().map(|l| l.source.clone()).collect();
        f.clause = c.terms.recoupable.as_ref().map(|r| c.section_clause("[recoupable]", r.span())).unwrap_or_default();
        f.explanation = format!("The same charge is debited {} times; the repeats cost the account {}.", lines.len(), extra.normalize());
        out.push(f);
    }
    // Third-party data: duplicates there would inflate the completeness checks (which skip them).
    let mut source: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    // Rolled-up lines (large files) stand for many rows; duplicates among them are not seen.
    for l in ctx.source.iter().filter(|l| l.rows == 1) {
        source.entry(sale_key(l, l.net)).or_default().push(l);
    }
    for (key, lines) in source.into_iter().filter(|(_, v)| v.len() > 1) {
        let mut f = Finding::new(Rule::A1, Severity::Info, &ctx.currency).key("contract", c.id()).key("source_line", key.replace('|', " ").trim());
        f.title = "Duplicate line in the sales data".into();
        f.evidence = lines.iter().map(|l| l.source.clone()).collect();
        f.explanation = format!("The same sales line appears {} times in the distributor/DSP data; it is counted once.", lines.len());
        out.push(f);
    }
}

/// A3: a statement's stated total against the sum of its lines (the import's control checks).
fn footing(ctx: &Ctx, out: &mut Vec<Finding>) {
    for file in ctx.files {
        let file_period: Option<Period> = ctx
            .statement
            .iter()
            .filter(|l| *l.source.file == *file.file && l.statement_kind == StatementKind::Label)
            .filter_map(|l| Ctx::period_of(l))
            .max();
        if !file.lines.iter().any(|l| l.statement_kind == StatementKind::Label && ctx.contract.owns_statement_account(l.account.as_deref())) {
            continue;
        }
        for check in &file.controls {
            let (Some(false), Some(computed)) = (check.ok, check.computed) else { continue };
            if check.field != "royalty" && check.field != "amount" {
                let mut f = Finding::new(Rule::A3, Severity::Info, &ctx.currency)
                    .key("contract", ctx.contract.id())
                    .key("file", &file.file)
                    .key("row", check.source.row)
                    .key("field", &check.field)
                    .figures(computed, check.stated);
                f.evidence.push(check.source.clone());
                f.explanation = format!("The statement's total {} ({}) is not the sum of its lines ({}).", check.field, check.stated.normalize(), computed.normalize());
                out.push(f);
                continue;
            }
            let diff = computed - check.stated;
            let mut f = Finding::new(Rule::A3, if diff > Decimal::ZERO { Severity::Claim } else { Severity::Overstatement }, &ctx.currency)
                .key("contract", ctx.contract.id())
                .key("file", &file.file)
                .key("row", check.source.row)
                .key("field", &check.field)
                .figures(computed, check.stated);
            f.period = file_period;
            f.royalty_effect = diff;
            f.account_effect = diff;
            f.evidence.push(check.source.clone());
            f.explanation = format!(
                "The statement's total of {} is {} but its lines add up to {}: a footing error of {}.",
                check.field,
                check.stated.normalize(),
                computed.normalize(),
                diff.normalize()
            );
            out.push(f);
        }
    }
}

/// A4: identifiers that fail validation block matching.
fn identifiers(ctx: &Ctx, out: &mut Vec<Finding>) {
    let mut bad: BTreeMap<(String, String), Vec<SourceRef>> = BTreeMap::new();
    for l in ctx.statement.iter().chain(ctx.source.iter()) {
        for flag in &l.flags {
            let (kind, value) = match flag {
                LineFlag::InvalidIsrc(v) => ("ISRC", v),
                LineFlag::InvalidUpc(v) => ("UPC/EAN", v),
                LineFlag::InvalidIswc(v) => ("ISWC", v),
                LineFlag::UnknownTerritory(v) => ("territory", v),
                _ => continue,
            };
            bad.entry((kind.to_string(), value.clone())).or_default().push(l.source.clone());
        }
    }
    for ((kind, value), evidence) in bad {
        let mut f = Finding::new(Rule::A4, Severity::Info, &ctx.currency).key("contract", ctx.contract.id()).key("identifier", format!("{kind} {value}"));
        f.explanation = format!("{kind} '{value}' is not valid on {} line(s); those lines cannot be matched.", evidence.len());
        f.evidence = evidence;
        out.push(f);
    }
}

/// A5: accounting periods with no statement between the contract start (or first statement)
/// and the last statement. Income found for them is claimed by the completeness check.
fn statement_gaps(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(acc) = ctx.contract.terms.contract.accounting else {
        out.push(
            Finding::not_checked(Rule::A5, &ctx.currency, "The contract gives no accounting frequency ([contract] accounting); missing statements cannot be found.")
                .key("contract", ctx.contract.id()),
        );
        return;
    };
    let periods = ctx.statement_periods();
    let (Some(first), Some(last)) = (periods.first(), periods.last()) else { return };
    let start = ctx.contract.terms.contract.start.unwrap_or(first.start).min(first.start);
    let mut d = start;
    while d <= last.start {
        use chrono::Datelike;
        let p = match acc {
            crate::contract::Accounting::Half => Period::half(d.year(), (d.month() - 1) / 6 + 1),
            crate::contract::Accounting::Quarter => Period::quarter(d.year(), (d.month() - 1) / 3 + 1),
            crate::contract::Accounting::Year => Period::year(d.year()),
            crate::contract::Accounting::Month => Period::month(d.year(), d.month()),
        };
        let Some(p) = p else { break };
        let covered = periods.iter().any(|s| s.start <= p.start && p.end <= s.end);
        let claimed = out.iter().any(|f| f.rule == Rule::A5 && f.period == Some(p));
        if !covered && !claimed {
            let mut f = Finding::new(Rule::A5, Severity::Info, &ctx.currency).key("contract", ctx.contract.id()).key("statement_period", p);
            f.title = "Missing statement".into();
            f.period = Some(p);
            f.explanation = format!("No statement for {p} was supplied; the sales data show no income the other statements lack for it.");
            out.push(f);
        }
        d = Ctx::months_after(p.end, 0).succ_opt().unwrap_or(p.end);
        if p.end >= last.end {
            break;
        }
    }
}
