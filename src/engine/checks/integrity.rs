//! Data integrity (rules A1, A3, A4 and the statement-gap part of A5).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::engine::context::Ctx;
use crate::engine::same_keys::first_of_same_sorted;
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
/// the key as shown; ordered by that text (groups of the same text in the order of their
/// first repeat). Equal keys are found by their hashes sorted ([`first_of_same_sorted`]).
fn repeated_sales<'a>(lines: impl Iterator<Item = (&'a LedgerLine, Option<Decimal>)>) -> Vec<(String, Vec<&'a LedgerLine>)> {
    let hasher = foldhash::fast::FixedState::default();
    // Each line's key hashed as the lines are gathered (one pass over them, not two).
    let mut hashed: Vec<(u64, u32)> = Vec::new();
    let lines: Vec<(&'a LedgerLine, Option<Decimal>)> = lines
        .enumerate()
        .map(|(i, (l, amount))| {
            if let Ok(i) = u32::try_from(i) {
                hashed.push((std::hash::BuildHasher::hash_one(&hasher, sale_key(l, amount)), i));
            }
            (l, amount)
        })
        .collect();
    // (Positions ascend as pushed: the order of `sort_unstable` on the pairs.)
    crate::engine::same_keys::sort_by_first(&mut hashed);
    let (first, _) = first_of_same_sorted(lines.len(), hashed, |i| lines.get(i).map(|&(l, amount)| sale_key(l, amount)));
    // A group is opened at its key's first repeat, with the key's first line.
    let mut groups: Vec<(SaleKey, Vec<&'a LedgerLine>)> = Vec::new();
    let mut group_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, &f) in first.iter().enumerate().filter(|(i, f)| **f != *i) {
        let (Some(&(head, amount)), Some(&(l, _))) = (lines.get(f), lines.get(i)) else { continue };
        let g = *group_of.entry(f).or_insert_with(|| {
            groups.push((sale_key(head, amount), vec![head]));
            groups.len() - 1
        });
        if let Some((_, group)) = groups.get_mut(g) {
            group.push(l);
        }
    }
    let mut groups: Vec<(String, Vec<&'a LedgerLine>)> = groups.into_iter().map(|(key, lines)| (show_sale_key(&key), lines)).collect();
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
        // (Only a file whose stated totals disagree with its lines is read further: the
        // passes below read every line of the statements, once a file.)
        if !file.controls.iter().any(|c| c.ok == Some(false) && c.computed.is_some()) {
            continue;
        }
        if !file.lines.iter().any(|l| l.statement_kind == StatementKind::Label && ctx.contract.owns_statement_account(l.account.as_deref())) {
            continue;
        }
        let file_period: Option<Period> = ctx
            .statement
            .iter()
            .filter(|l| *l.source.file == *file.file && l.statement_kind == StatementKind::Label)
            .filter_map(|l| Ctx::period_of(l))
            .max();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Currency, SourceRef};

    fn line(row: u64, isrc: &str, units: i64) -> LedgerLine {
        let mut l = LedgerLine::new(SourceRef::new("s.csv", None, row), "p", StatementKind::Label, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
        l.isrc = Some(isrc.into());
        l.store = Some("spotify".into());
        l.units = Some(Decimal::from(units));
        l
    }

    #[test]
    fn repeated_sales_are_grouped_first_line_first_and_ordered_by_key() {
        // B twice, A three times (once with units written with decimals: the same sale), C once.
        let mut a3 = line(6, "A", 1);
        a3.units = Some(Decimal::new(100, 2));
        let lines = [line(1, "B", 2), line(2, "A", 1), line(3, "C", 5), line(4, "B", 2), line(5, "A", 1), a3];
        let groups = repeated_sales(lines.iter().map(|l| (l, Some(Decimal::ONE))));
        let shown: Vec<(&str, Vec<u64>)> = groups.iter().map(|(k, v)| (k.as_str(), v.iter().map(|l| l.source.row).collect())).collect();
        assert_eq!(shown, [("A|spotify|||||1|1", vec![2, 5, 6]), ("B|spotify|||||2|1", vec![1, 4])]);
        // A different amount is a different sale.
        let groups = repeated_sales(lines.iter().enumerate().map(|(i, l)| (l, Some(Decimal::from(i as i64)))));
        assert!(groups.is_empty());
    }
}
