//! Data integrity (rules A1, A3, A4 and the statement-gap part of A5).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::engine::context::Ctx;
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LedgerLine, LineFlag, LineKind, LineText, Period, SourceRef, StatementKind, Territory};

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
/// sale type, units and the amount (decimals normalised: equal values, equal keys). Copied
/// from the line (interned texts: hashed and compared as handles); a key is built for every
/// line, and only repeated ones are written out. An empty text counts as none.
type SaleKey = (Option<LineText>, Option<LineText>, Option<LineText>, Option<Territory>, Option<Period>, Option<LineText>, Option<Decimal>, Option<Decimal>);

fn sale_key(l: &LedgerLine, amount: Option<Decimal>) -> SaleKey {
    let text = |t: Option<LineText>| t.filter(|t| !t.is_empty());
    (
        text(l.isrc.or(l.upc)),
        text(l.store),
        text(l.offering),
        l.territory,
        l.sale_period,
        text(l.sale_type),
        l.units.map(|d| d.normalize()),
        amount.map(|d| d.normalize()),
    )
}

/// A sale key as findings show it (its parts joined by `|`).
fn show_sale_key(k: &SaleKey) -> String {
    let text = |t: Option<LineText>| t.map(|t| t.to_string()).unwrap_or_default();
    [text(k.0), text(k.1), text(k.2), k.3.map(|t| t.code().to_string()).unwrap_or_default(), k.4.map(|p| p.to_string()).unwrap_or_default(), text(k.5), dec(k.6), dec(k.7)].join("|")
}

/// The lines that share a sale key with an earlier line, grouped (first line first), with
/// the key as shown; ordered by that text. The index holds positions of first lines only
/// (4 bytes a line): keys are worked out again from the lines when compared.
fn repeated_sales<'a>(lines: impl Iterator<Item = (&'a LedgerLine, Option<Decimal>)>) -> Vec<(String, Vec<&'a LedgerLine>)> {
    use std::hash::BuildHasher;
    let hasher = foldhash::fast::FixedState::default();
    // At most one entry a line (the bound of the iterator: `filter` keeps no lower one).
    let mut index: hashbrown::HashTable<u32> = hashbrown::HashTable::with_capacity(lines.size_hint().1.unwrap_or(0));
    let mut groups: Vec<(String, Vec<&'a LedgerLine>)> = Vec::new();
    // First lines: the line, its amount, and its group once repeated.
    let mut firsts: Vec<(&'a LedgerLine, Option<Decimal>, Option<usize>)> = Vec::new();
    for (l, amount) in lines {
        let key = sale_key(l, amount);
        let hash = hasher.hash_one(key);
        let found = index.find(hash, |&i| firsts.get(i as usize).is_some_and(|&(f, a, _)| sale_key(f, a) == key)).copied();
        match found {
            None => {
                // Positions fit in 4 bytes: no ledger held in memory has 4 billion lines.
                let Ok(at) = u32::try_from(firsts.len()) else { continue };
                index.insert_unique(hash, at, |&i| firsts.get(i as usize).map_or(0, |&(f, a, _)| hasher.hash_one(sale_key(f, a))));
                firsts.push((l, amount, None));
            }
            Some(i) => {
                let Some((head, _, group)) = firsts.get_mut(i as usize) else { continue };
                let g = *group.get_or_insert_with(|| {
                    groups.push((show_sale_key(&key), vec![*head]));
                    groups.len() - 1
                });
                groups[g].1.push(l);
            }
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// A1: the same line twice, within or across statements.
fn duplicates(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    let income = repeated_sales(ctx.statement.iter().filter(|l| l.line_kind == LineKind::Income).map(|l| (*l, l.royalty)));
    let mut charges: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    for l in &ctx.statement {
        if l.line_kind == LineKind::Charge {
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
    }
    for (key, lines) in income {
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
    // Rolled-up lines (large files) stand for many rows; duplicates among them are not seen.
    for (key, lines) in repeated_sales(ctx.source.iter().filter(|l| l.rows == 1).map(|l| (*l, l.net))) {
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
        let Some(p) = acc.period_of(d) else { break };
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
