//! Income completeness (rules A5, A6, B1–B5): the label's statements against the
//! distributor and DSP data, matched on sale period (not statement period) at the finest
//! key both sides carry (store, territory, ISRC), with the reporting lag window of
//! domain.md §5.4.
//!
//! Source income the label never reported is claimed once, under the most telling rule:
//! a catalogue ISRC never on any label statement (A6), else a store or territory never on
//! any label statement (B4), else a missing statement period (A5), else the key itself (B1).

use std::collections::{BTreeMap, BTreeSet};

/// Hash maps of this check: a fixed fast hash (keys are the check's own data; nothing is
/// iterated in hash order).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

use rust_decimal::Decimal;

use crate::contract::{pct, times, Base};
use crate::engine::context::Ctx;
use crate::engine::royalty::configuration;
use crate::engine::same_keys::{by_hash, first_of_same};
use crate::engine::finding::{Finding, Rule, Severity};
use crate::ledger::{LedgerLine, LineKind, LineText, Period, PeriodKind, SourceRef, Territory};

/// Key fields present on every label income line (and, for territory, every sales line).
#[derive(Debug, Clone, Copy)]
struct Granularity {
    store: bool,
    territory: bool,
    isrc: bool,
}

/// Store, territory and ISRC as far as the granularity matches on them (copied from the
/// lines: interned texts and a territory code, 24 bytes; keys are built for every line, so
/// they must not allocate).
type Key = (Option<LineText>, Option<Territory>, Option<LineText>);

fn key_of(g: Granularity, l: &LedgerLine) -> Key {
    (
        if g.store { l.store } else { None },
        if g.territory { l.territory } else { None },
        if g.isrc { l.isrc } else { None },
    )
}

fn show_key(k: &Key) -> String {
    [k.0.as_deref(), k.1.as_ref().map(|t| t.code()), k.2.as_deref()].iter().flatten().copied().collect::<Vec<_>>().join(" ")
}

/// Source rows of a group: most groups have one line on each side.
type Refs<'a> = smallvec::SmallVec<[&'a SourceRef; 1]>;

/// (Laid out in this order, `repr(C)`: what matching a sales line to its group reads and
/// adds to comes first, on two or three cache lines; see [`run`]'s matching loop.)
#[repr(C)]
struct LabelGroup<'a> {
    key: Key,
    sale_period: Period,
    src_units: Decimal,
    src_net: Decimal,
    src_expected: Decimal,
    /// Source rows behind `src_refs` (more than its length when lines were rolled up).
    src_rows: u64,
    /// The first source line matched (its royalty term is the clause of a finding).
    first_source: Option<&'a LedgerLine>,
    src_refs: Refs<'a>,
    units: Decimal,
    net: Option<Decimal>,
    statement_period: Option<Period>,
    label_refs: Refs<'a>,
}

/// How a source line's expected royalty was computed, written out only for findings.
struct How {
    term: usize,
    rate: Decimal,
    factor: Decimal,
    /// Units and contract price, for a price-based term.
    units_price: Option<(Decimal, Decimal)>,
}

/// A source line converted to the contract currency, with its expected royalty.
struct SourceIncome<'a> {
    line: &'a LedgerLine,
    month: Period,
    net: Decimal,
    expected: Decimal,
}

impl<'a> SourceIncome<'a> {
    /// How the expected royalty was worked out (for a finding's trail): worked out again, as
    /// few lines are shown and keeping it for every line of a large report costs memory.
    fn how(&self, ctx: &Ctx<'a>, memo: &mut TermMemo<'a>) -> String {
        let Some((_, h)) = expected_of(ctx, self.line, self.net, memo) else { return String::new() };
        let clause = ctx.contract.term_clause(h.term);
        match h.units_price {
            Some((u, p)) => format!(
                "{} units × price {} × rate {} × factor {} = {} ({clause})",
                u.normalize(),
                p.normalize(),
                pcs(h.rate),
                pcs(h.factor),
                self.expected.normalize()
            ),
            None => format!("net {} × rate {} × factor {} = {} ({clause})", self.net.normalize(), pcs(h.rate), pcs(h.factor), self.expected.normalize()),
        }
    }
}

fn pcs(v: Decimal) -> String {
    format!("{}%", (v * Decimal::ONE_HUNDRED).normalize())
}

/// The term, rate and territory factor for a line's income type, configuration, territory
/// group and sale date: the same for most lines of a large report, so looked up once each.
type TermMemo<'a> = HashMap<(Option<crate::ledger::IncomeType>, Option<&'a str>, &'a str, Option<chrono::NaiveDate>), Option<(usize, Decimal, Decimal)>>;

fn expected_of<'a>(ctx: &Ctx<'a>, l: &'a LedgerLine, net: Decimal, memo: &mut TermMemo<'a>) -> Option<(Decimal, How)> {
    let c = ctx.contract;
    let date = l.sale_period.map(|p| p.start);
    let group = c.line_territory_group(l);
    let (ti, rate, factor) = *memo.entry((l.income_type, l.sale_type.as_deref(), group, date)).or_insert_with_key(|(_, _, group, _)| {
        let cfg = configuration(l);
        let ti = c.term_for(l.income_type, cfg.as_deref(), None, None, date)?;
        let term = c.terms.royalties[ti].get_ref();
        Some((ti, pct(term.rate), c.factor(term, group)?))
    })
    .as_ref()?;
    let term = c.terms.royalties[ti].get_ref();
    let price = if term.base == Base::NetReceipts {
        None
    } else {
        let cfg = configuration(l);
        c.release_of(l).and_then(|r| cfg.as_ref().and_then(|k| r.prices.get(k)).copied())
    };
    Some(match (price, l.units) {
        (Some(p), Some(u)) => (times(u * p * rate, factor), How { term: ti, rate, factor, units_price: Some((u, p)) }),
        _ => (times(net * rate, factor), How { term: ti, rate, factor, units_price: None }),
    })
}

/// The contract accounting period a sale month belongs to (or the month itself).
fn accounting_period_of(ctx: &Ctx, month: Period) -> Period {
    match ctx.contract.terms.contract.accounting {
        Some(accounting) => accounting.period_of(month.start),
        None => ctx.statement_periods().iter().find(|p| p.end >= month.end).copied(),
    }
    .unwrap_or(month)
}

/// The label's side of the check: its income lines of the types the sales data carry, what
/// they all show, and the stores, territories and ISRCs they report (for B4 and A6).
struct LabelSide<'a> {
    label: Vec<&'a LedgerLine>,
    all_sale_periods: bool,
    all_stores: bool,
    all_territories: bool,
    all_isrcs: bool,
    label_stores: HashSet<Option<&'a str>>,
    label_territories: HashSet<Option<&'a str>>,
    label_isrcs: HashSet<&'a str>,
}

fn label_side<'a>(ctx: &Ctx<'a>, source_types: &[Option<crate::ledger::IncomeType>]) -> LabelSide<'a> {
    // Only label lines of income types the sales data carry can be matched to them.
    let (mut all_sale_periods, mut all_stores, mut all_territories, mut all_isrcs) = (true, true, true, true);
    // The stores, territories and ISRCs the label reports (for B4 and A6), gathered in the
    // same pass. Statement lines come in runs of one store, territory or ISRC: a run's value
    // is added once.
    let (mut label_stores, mut label_territories, mut label_isrcs): (HashSet<Option<&'a str>>, HashSet<Option<&'a str>>, HashSet<&'a str>) = Default::default();
    let (mut last_store, mut last_territory, mut last_isrc) = (None, None, None);
    let label: Vec<&'a LedgerLine> = ctx
        .statement
        .iter()
        .copied()
        .filter(|l| l.line_kind == LineKind::Income && source_types.contains(&l.income_type))
        .inspect(|l| {
            all_sale_periods &= l.sale_period.is_some();
            all_stores &= l.store.is_some();
            all_territories &= l.territory.is_some();
            all_isrcs &= l.isrc.is_some();
            if last_store != Some(l.store) {
                last_store = Some(l.store);
                label_stores.insert(l.store.as_deref());
            }
            if last_territory != Some(l.territory) {
                last_territory = Some(l.territory);
                label_territories.insert(l.territory.as_ref().map(|t| t.code()));
            }
            if last_isrc != Some(l.isrc) {
                last_isrc = Some(l.isrc);
                label_isrcs.extend(l.isrc.as_deref());
            }
        })
        .collect();
    LabelSide { label, all_sale_periods, all_stores, all_territories, all_isrcs, label_stores, label_territories, label_isrcs }
}

/// The label's groups by key and sale period, in the order of their first line; each label
/// line's group (`u32::MAX`: none); and the groups' first lines with their hashes, sorted as
/// [`by_hash`] sorts them.
fn label_groups<'a>(g: Granularity, label: &[&'a LedgerLine]) -> (Vec<LabelGroup<'a>>, Vec<u32>, Vec<(u64, u32)>) {
    let mut groups: Vec<LabelGroup> = Vec::with_capacity(label.len());
    let (first, firsts) = first_of_same(label.len(), |i| label.get(i).and_then(|l| Some((key_of(g, l), l.sale_period?))), pair_hash);
    let mut group_no: Vec<u32> = vec![u32::MAX; label.len()];
    for (i, l) in label.iter().enumerate() {
        let Some(sp) = l.sale_period else { continue };
        let f = first.get(i).copied().unwrap_or(i);
        let gi = if f == i {
            groups.push(LabelGroup {
                key: key_of(g, l),
                sale_period: sp,
                units: Decimal::ZERO,
                net: None,
                statement_period: None,
                src_units: Decimal::ZERO,
                src_net: Decimal::ZERO,
                src_expected: Decimal::ZERO,
                src_refs: Refs::new(),
                first_source: None,
                src_rows: 0,
                label_refs: Refs::new(),
            });
            groups.len() - 1
        } else {
            group_no.get(f).map_or(usize::MAX, |n| *n as usize)
        };
        group_no[i] = gi as u32;
        let Some(e) = groups.get_mut(gi) else { continue };
        e.units += l.units.unwrap_or_default();
        if let Some(n) = l.net {
            *e.net.get_or_insert(Decimal::ZERO) += n;
        }
        let p = Ctx::period_of(l);
        if e.statement_period.is_none_or(|q| p.is_some_and(|p| p > q)) {
            e.statement_period = p;
        }
        e.label_refs.push(&l.source);
    }
    (groups, group_no, firsts)
}

/// The source lines converted to the contract currency and priced (exact repeats dropped:
/// A1 reports them), and the sources of the lines that could not be converted or priced.
fn price_sources<'a>(ctx: &Ctx<'a>, source_lines: Vec<&'a LedgerLine>) -> (Vec<SourceIncome<'a>>, Vec<SourceRef>, Vec<SourceRef>) {
    let c = ctx.contract;
    // Convert and price the source lines; drop exact duplicates (A1 reports them).
    let repeats = repeated_lines(&source_lines);
    let mut memo = TermMemo::default();
    let mut sources: Vec<SourceIncome> = Vec::with_capacity(source_lines.len());
    let mut unconverted: Vec<SourceRef> = Vec::new();
    let mut unpriced: Vec<SourceRef> = Vec::new();
    for (i, l) in source_lines.into_iter().enumerate() {
        let Some(sp) = l.sale_period else {
            unpriced.push(l.source.clone());
            continue;
        };
        let month = Period::month_of(sp.start).unwrap_or(sp);
        if repeats.get(i).is_some_and(|r| *r) {
            continue;
        }
        let raw = l.net.unwrap_or_default();
        let net = if l.currency == c.currency {
            raw
        } else {
            match c.fx_rates.as_ref().and_then(|fx| fx.rate_average(l.currency, c.currency, &month)) {
                Some(r) => raw * r,
                None => {
                    unconverted.push(l.source.clone());
                    continue;
                }
            }
        };
        match expected_of(ctx, l, net, &mut memo) {
            Some((expected, _)) => sources.push(SourceIncome { line: l, month, net, expected }),
            None => unpriced.push(l.source.clone()),
        }
    }
    (sources, unconverted, unpriced)
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let c = ctx.contract;
    // Territory is matched only when the sales data name one on every line too (rolled-up
    // lines of large files carry only a territory group; some reports have no territory).
    let names_territory = |l: &LedgerLine| l.territory.is_some() || l.flags.iter().any(|f| matches!(f, crate::ledger::LineFlag::UnknownTerritory(_)));
    // (What is asked of every line is asked in the pass that gathers the lines.)
    let (mut source_types, mut sources_name_territory) = (Vec::new(), true);
    // (The line a few ahead is prefetched: this is the first read of the sales lines since
    // they were imported, and they are long out of the caches.)
    let source_lines: Vec<&LedgerLine> = ctx
        .source
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if let Some(ahead) = ctx.source.get(i + 8) {
                crate::prefetch::prefetch(*ahead);
            }
            *l
        })
        .filter(|l| l.line_kind == LineKind::Income && l.net.is_some_and(|n| n > Decimal::ZERO))
        .inspect(|l| {
            if !source_types.contains(&l.income_type) {
                source_types.push(l.income_type);
            }
            sources_name_territory &= names_territory(l);
        })
        .collect();
    if source_lines.is_empty() {
        out.push(
            Finding::not_checked(Rule::B1, &ctx.currency, "No distributor or DSP sales data among the statements: income completeness (A5, A6, B1–B5) needs them.")
                .key("contract", c.id()),
        );
        return;
    }
    // The label's side (its lines, then its groups) is worked out on a thread of its own
    // while the source lines are priced: the two take about as long, and neither needs the
    // other.
    let (side, (sources, unconverted, unpriced)) = std::thread::scope(|scope| {
        let label = scope.spawn(|| {
            let side = label_side(ctx, &source_types);
            let g = Granularity { store: side.all_stores, territory: side.all_territories && sources_name_territory, isrc: side.all_isrcs };
            let groups = (!side.label.is_empty() && side.all_sale_periods).then(|| label_groups(g, &side.label));
            (side, g, groups)
        });
        let priced = price_sources(ctx, source_lines);
        match label.join() {
            Ok(side) => (side, priced),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let (LabelSide { label, label_stores, label_territories, label_isrcs, .. }, g, groups) = side;
    let Some((mut groups, group_no, firsts)) = groups else {
        if label.is_empty() {
            out.push(Finding::not_checked(Rule::B1, &ctx.currency, "No label income lines to check the sales data against.").key("contract", c.id()));
        } else {
            out.push(
                Finding::not_checked(Rule::B1, &ctx.currency, "Some label income lines show no sale period; matching to sales data needs the sale period (domain.md §5.4).")
                    .key("contract", c.id()),
            );
        }
        return;
    };
    if !unconverted.is_empty() {
        let mut f = Finding::not_checked(
            Rule::B1,
            &ctx.currency,
            format!("{} source line(s) are in another currency and the contract names no reference rate for their sale month ([fx] reference).", unconverted.len()),
        )
        .key("contract", c.id())
        .key("reason", "currency");
        f.evidence = unconverted;
        out.push(f);
    }
    if !unpriced.is_empty() {
        let mut f = Finding::not_checked(Rule::B1, &ctx.currency, format!("{} source line(s) match no royalty term or show no sale period.", unpriced.len()))
            .key("contract", c.id())
            .key("reason", "no term");
        f.evidence = unpriced;
        out.push(f);
    }
    // A sales line's group is the first of its key whose sale period holds the line's sale
    // month. When every label sale period is a calendar month (as monthly statements show
    // them), that is the group of the key and that very month: the sales lines and the
    // groups are joined on (key, month). Otherwise the groups (sale period, index) of each
    // key are listed, in order.
    let monthly = groups.iter().all(|grp| Period::month_of(grp.sale_period.start) == Some(grp.sale_period));
    let joined: Vec<Option<u32>> = if monthly {
        let group_pairs: Vec<(Key, Period)> = groups.iter().map(|grp| (grp.key, grp.sale_period)).collect();
        // The groups sorted by hash: their first lines', as grouping sorted them (a group's
        // number grows with its first line's position, so the order is by_hash's).
        let sorted: Option<Vec<(u64, u32)>> = firsts.iter().map(|&(h, i)| group_no.get(i as usize).filter(|n| **n != u32::MAX).map(|n| (h, *n))).collect();
        join_on_key_and_period(&group_pairs, sorted, sources.iter().map(|s| (key_of(g, s.line), s.month)), pair_hash)
    } else {
        Vec::new()
    };
    let mut periods_by_key: HashMap<Key, Vec<(Period, usize)>> = HashMap::default();
    if !monthly {
        periods_by_key.reserve(groups.len());
        for (i, grp) in groups.iter().enumerate() {
            periods_by_key.entry(grp.key).or_default().push((grp.sale_period, i));
        }
    }
    let group_of = |source: usize, k: Key, month: Period| -> Option<usize> {
        if monthly {
            joined.get(source).copied().flatten().map(|i| i as usize)
        } else {
            periods_by_key.get(&k).and_then(|ps| ps.iter().find(|(sp, _)| sp.start <= month.start && month.end <= sp.end)).map(|&(_, i)| i)
        }
    };
    let statement_periods: BTreeSet<Period> = ctx.statement_periods().iter().copied().collect();
    let last_statement_end = statement_periods.iter().map(|p| p.end).max();
    let mut unmatched: BTreeMap<(Rule, String, Option<Period>), Vec<&SourceIncome>> = BTreeMap::new();
    let mut pending: Vec<SourceRef> = Vec::new();
    // The group of the sales line a few lines ahead (known from the join) is prefetched:
    // its cache misses (one group of 480,000 at random, at 10M rows) then overlap the lines
    // in between. Half of this check's own time had been the wait for the group's key.
    const AHEAD: usize = 8;
    for (source, s) in sources.iter().enumerate() {
        if let Some(ahead) = joined.get(source + AHEAD).copied().flatten().and_then(|i| groups.get(i as usize)) {
            crate::prefetch::prefetch(ahead);
        }
        let k = key_of(g, s.line);
        // (A candidate of the join is checked here, where its group is read anyway.)
        let holds = |grp: &LabelGroup| grp.key == k && grp.sale_period.start <= s.month.start && s.month.end <= grp.sale_period.end;
        if let Some(i) = group_of(source, k, s.month).filter(|i| groups.get(*i).is_some_and(holds)) {
            let grp = &mut groups[i];
            grp.src_units += s.line.units.unwrap_or_default();
            grp.src_net += s.net;
            grp.src_expected += s.expected;
            grp.src_refs.push(&s.line.source);
            grp.first_source.get_or_insert(s.line);
            grp.src_rows += s.line.rows;
            continue;
        }
        let window_end = Ctx::months_after(s.month.end, ctx.lag_months);
        if last_statement_end.is_none_or(|e| e < window_end) {
            pending.push(s.line.source.clone());
            continue;
        }
        let period = accounting_period_of(ctx, s.month);
        let (rule, what) = if g.isrc && s.line.isrc.as_deref().is_some_and(|i| c.track(i).is_some() && !label_isrcs.contains(i)) {
            (Rule::A6, format!("ISRC {}", s.line.isrc.unwrap_or_default()))
        } else if g.store && !label_stores.contains(&s.line.store.as_deref()) {
            (Rule::B4, format!("store {}", s.line.store.unwrap_or_default()))
        } else if g.territory && !label_territories.contains(&s.line.territory.as_ref().map(|t| t.code())) {
            (Rule::B4, format!("territory {}", s.line.territory.as_ref().map(|t| t.code()).unwrap_or("")))
        } else if c.terms.contract.accounting.is_some() && !statement_periods.contains(&period) {
            (Rule::A5, format!("statement for {period}"))
        } else {
            (Rule::B1, format!("{} {}", show_key(&k), s.month))
        };
        unmatched.entry((rule, what, Some(period))).or_default().push(s);
    }
    // The findings of the groups are written out on a thread of their own, beside those of
    // the unmatched source lines; they go after them, as they always have.
    let by_group = std::thread::scope(|scope| {
        let by_group = scope.spawn(|| {
            let mut found = Vec::new();
            for grp in &groups {
                if grp.src_refs.is_empty() {
                    continue;
                }
                let (k, sp) = (&grp.key, &grp.sale_period);
                let period = grp.statement_period;
                // B5: reported, but later than the window allows.
                if let Some(p) = period
                    && p.start > Ctx::months_after(sp.end, ctx.lag_months)
                {
                    let mut f = Finding::new(Rule::B5, Severity::Info, &ctx.currency)
                        .key("contract", c.id())
                        .key("key", show_key(k))
                        .key("sale_period", sp)
                        .key("statement_period", p);
                    f.period = Some(p);
                    let should = ctx.due_date(&accounting_period_of(ctx, *sp));
                    let actual = ctx.due_date(&p);
                    if let (Some(rate), Some(from), Some(to)) = (c.audit().and_then(|a| a.interest_rate_pct), should, actual) {
                        f.interest = super::timing::simple_interest(grp.src_expected, rate, from, to, c.currency.minor_units());
                        if f.interest > Decimal::ZERO {
                            f.severity = Severity::Claim;
                            f.trail.push(format!("interest on {} from {from} (when due) to {to} (when accounted) = {}", grp.src_expected.normalize(), f.interest));
                        }
                    }
                    f.evidence = grp.label_refs.iter().map(|r| (*r).clone()).collect();
                    f.explanation = format!("Sales of {sp} were first accounted in {p}, beyond the {}-month window; interest is due on the royalty for the delay.", ctx.lag_months);
                    f.trail.push(format!("royalty on the late income (from the sales data): {}", grp.src_expected.normalize()));
                    f.expected = Some(grp.src_expected);
                    found.push(f);
                }
                let first_source = grp.first_source;
                let tol = ctx.tol(grp.src_net);
                let short_net = grp.net.map(|n| grp.src_net - n);
                let mut finding = |rule: Rule, expected: Decimal, reported: Decimal, claim: Decimal, what: String| {
                    let mut f = Finding::new(rule, Severity::Claim, &ctx.currency)
                        .key("contract", c.id())
                        .key("key", show_key(k))
                        .key("sale_period", sp)
                        .key("statement_period", period.map(|p| p.to_string()).unwrap_or_default())
                        .figures(expected, reported);
                    f.period = period;
                    f.royalty_effect = claim;
                    f.account_effect = claim;
                    f.evidence = grp.label_refs.iter().chain(grp.src_refs.iter()).map(|r| (*r).clone()).collect();
                    f.explanation = what;
                    let rows = if grp.src_rows > grp.src_refs.len() as u64 { format!(" ({} rows, rolled up in {} lines)", grp.src_rows, grp.src_refs.len()) } else { String::new() };
                    f.trail.push(format!("sales data{rows}: {} units, net {}, royalty due on it {}", grp.src_units.normalize(), grp.src_net.normalize(), grp.src_expected.normalize()));
                    f.trail.push(format!("label statement: {} units, receipts {}", grp.units.normalize(), grp.net.map(|n| n.normalize().to_string()).unwrap_or_else(|| "not shown".into())));
                    f.trail.push(format!("claim = {}", claim.normalize()));
                    f.clause = first_source.map(|l| term_clause_for(ctx, l)).unwrap_or_default();
                    found.push(f);
                };
                if let Some(short) = short_net.filter(|s| *s > tol) {
                    let claim = if grp.src_net.is_zero() { Decimal::ZERO } else { short * grp.src_expected / grp.src_net };
                    finding(
                        Rule::B3,
                        grp.src_net,
                        grp.net.unwrap_or_default(),
                        claim,
                        format!("The label reports {} less in receipts for {} {sp} than the sales data show; royalty on the difference {}.", short.normalize(), show_key(k), claim.round_dp(2)),
                    );
                } else if grp.src_units > grp.units && !grp.src_units.is_zero() {
                    let missing = grp.src_units - grp.units;
                    let claim = missing * grp.src_expected / grp.src_units;
                    if claim > ctx.amount_tol {
                        finding(
                            Rule::B2,
                            grp.src_units,
                            grp.units,
                            claim,
                            format!("The label reports {} fewer units for {} {sp} than the sales data show.", missing.normalize(), show_key(k)),
                        );
                    }
                }
            }
            found
        });
        for ((rule, what, period), items) in unmatched {
            let expected: Decimal = items.iter().map(|s| s.expected).sum();
            let net: Decimal = items.iter().map(|s| s.net).sum();
            let mut f = Finding::new(rule, Severity::Claim, &ctx.currency).key("contract", c.id()).key("missing", &what);
            if let Some(p) = period {
                f = f.key("statement_period", p);
            }
            f.period = period;
            f = f.figures(expected, Decimal::ZERO);
            f.royalty_effect = expected;
            f.account_effect = expected;
            f.evidence = items.iter().map(|s| s.line.source.clone()).collect();
            let mut memo = TermMemo::default();
            f.trail = items.iter().map(|s| format!("{} row {}{}: {} {}", s.line.source.file, s.line.source.row, more_rows(s.line), s.month, s.how(ctx, &mut memo))).collect();
            f.clause = items.first().map(|s| term_clause_for(ctx, s.line)).unwrap_or_default();
            let months: BTreeSet<String> = items.iter().map(|s| s.month.to_string()).collect();
            f.explanation = match rule {
                Rule::A6 => format!("{what} is in the contract catalogue and earned {} in the sales data ({}), but never appears on the label's statements.", net.normalize(), join(&months)),
                Rule::B4 => format!("The sales data show income from {what} ({} net, {}) that no label statement ever reports.", net.normalize(), join(&months)),
                Rule::A5 => format!("There is no label {what}; the sales data show {} net for its sale months ({}).", net.normalize(), join(&months)),
                _ => format!("Income in the sales data for {what} ({} net) is on no label statement within the {}-month reporting window.", net.normalize(), ctx.lag_months),
            };
            out.push(f);
        }
        if !pending.is_empty() {
            let mut f = Finding::new(Rule::B1, Severity::Info, &ctx.currency).key("contract", c.id()).key("missing", "not yet due");
            f.title = "Income not yet due on a label statement".into();
            f.explanation = format!(
                "{} source line(s) are not on the label's statements but are still inside the {}-month reporting window after the last statement.",
                pending.len(),
                ctx.lag_months
            );
            f.evidence = pending;
            out.push(f);
        }
        match by_group.join() {
            Ok(found) => found,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    out.extend(by_group);
    data_gaps(ctx, &sources, out);
    dormant(ctx, &label, &sources, out);
}

/// How (key, period) pairs are hashed (tests make every pair collide).
type PairHash = fn(&(Key, Period)) -> u64;

fn pair_hash(p: &(Key, Period)) -> u64 {
    std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::default(), p)
}

/// For each right item, the position of the left item whose (key, period) has the same
/// hash, if any (left pairs are distinct). When two left pairs share a hash, the pairs are
/// compared here; otherwise the caller compares the one candidate (it reads that item
/// anyway; reading it here too would be one more cache miss per item).
/// The pairs are matched by their hashes sorted ([`by_hash`]). (`left_sorted`: the left
/// pairs' hashes and positions as [`by_hash`] gives them, when the caller has them already.)
fn join_on_key_and_period(left: &[(Key, Period)], left_sorted: Option<Vec<(u64, u32)>>, right: impl Iterator<Item = (Key, Period)>, hash: PairHash) -> Vec<Option<u32>> {
    let right: Vec<(Key, Period)> = right.collect();
    let l_sorted = left_sorted.unwrap_or_else(|| by_hash(left.iter().copied().map(Some), hash));
    let r_sorted = by_hash(right.iter().copied().map(Some), hash);
    let mut out = vec![None; right.len()];
    let (mut a, mut b) = (0, 0);
    while a < l_sorted.len() && b < r_sorted.len() {
        let (ha, hb) = (l_sorted[a].0, r_sorted[b].0);
        if ha < hb {
            a += 1;
        } else if hb < ha {
            b += 1;
        } else {
            let a_end = a + l_sorted[a..].iter().take_while(|x| x.0 == ha).count();
            let b_end = b + r_sorted[b..].iter().take_while(|x| x.0 == hb).count();
            for &(_, r) in &r_sorted[b..b_end] {
                out[r as usize] = if a_end - a == 1 {
                    Some(l_sorted[a].1)
                } else {
                    let pair = right[r as usize];
                    l_sorted[a..a_end].iter().find(|(_, l)| left[*l as usize] == pair).map(|(_, l)| *l)
                };
            }
            (a, b) = (a_end, b_end);
        }
    }
    out
}

/// What makes a sales line an exact repeat of an earlier one.
type RepeatKey<'a> = (&'a Option<LineText>, &'a Option<Territory>, &'a Option<LineText>, &'a Option<LineText>, Period, &'a Option<LineText>, Option<Decimal>, Option<Decimal>, &'a Option<LineText>);

fn repeat_key(l: &LedgerLine) -> Option<RepeatKey<'_>> {
    // A rolled-up line (large files) is a sum of rows, never a repeat of another line.
    (l.rows == 1).then_some(())?;
    Some((&l.store, &l.territory, &l.isrc, &l.upc, l.sale_period?, &l.sale_type, l.units, l.net, &l.offering))
}

/// For each line, whether it repeats an earlier line exactly (same key; see [`repeat_key`]).
fn repeated_lines(lines: &[&LedgerLine]) -> Vec<bool> {
    let hasher = foldhash::fast::FixedState::default();
    let (first, _) = first_of_same(lines.len(), |i| lines.get(i).and_then(|l| repeat_key(l)), |k| std::hash::BuildHasher::hash_one(&hasher, k));
    first.iter().enumerate().map(|(i, f)| *f != i).collect()
}

/// " and N more rows" for a rolled-up line.
fn more_rows(l: &LedgerLine) -> String {
    if l.rows > 1 { format!(" and {} more row(s) of the same key", l.rows - 1) } else { String::new() }
}

fn term_clause_for(ctx: &Ctx, l: &LedgerLine) -> String {
    let c = ctx.contract;
    let cfg = configuration(l);
    c.term_for(l.income_type, cfg.as_deref(), None, None, l.sale_period.map(|p| p.start))
        .map(|t| c.term_clause(t))
        .unwrap_or_default()
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// A5 (informational part): statement periods missing between the first and the last, and
/// months missing in a store's sales data.
fn data_gaps(ctx: &Ctx, sources: &[SourceIncome], out: &mut Vec<Finding>) {
    let mut per_store: BTreeMap<&str, BTreeSet<Period>> = BTreeMap::new();
    for s in sources {
        per_store.entry(s.line.store.as_deref().unwrap_or_default()).or_default().insert(s.month);
    }
    for (store, months) in per_store {
        let (Some(first), Some(last)) = (months.first().copied(), months.last().copied()) else { continue };
        let mut m = first;
        let mut gaps = Vec::new();
        while m < last {
            let next = Ctx::months_after(m.start, 1);
            m = Period::month_of(next).unwrap_or(last);
            if m.kind == PeriodKind::Month && !months.contains(&m) && m < last {
                gaps.push(m.to_string());
            }
        }
        if !gaps.is_empty() {
            let mut f = Finding::new(Rule::A5, Severity::Info, &ctx.currency).key("contract", ctx.contract.id()).key("store", store);
            f.title = "Gap in the sales data".into();
            f.explanation = format!("The sales data for {store} have no lines for {}; ask for those reports before concluding on completeness.", gaps.join(", "));
            out.push(f);
        }
    }
}

/// A6 (informational): catalogue ISRCs on no statement and in no sales data.
fn dormant(ctx: &Ctx, label: &[&LedgerLine], sources: &[SourceIncome], out: &mut Vec<Finding>) {
    let periods = ctx.statement_periods();
    if periods.len() < 2 || ctx.contract.terms.tracks.is_empty() {
        return;
    }
    let seen: HashSet<&str> = label.iter().filter_map(|l| l.isrc.as_deref()).chain(sources.iter().filter_map(|s| s.line.isrc.as_deref())).collect();
    for t in &ctx.contract.terms.tracks {
        let t = t.get_ref();
        let isrc = crate::ledger::ids::parse_isrc(&t.isrc).unwrap_or_else(|_| t.isrc.clone());
        let released_before = t.release_date.is_none_or(|d| periods.iter().filter(|p| p.end >= d).count() >= 2);
        if released_before && !seen.contains(isrc.as_str()) {
            let mut f = Finding::new(Rule::A6, Severity::Info, &ctx.currency).key("contract", ctx.contract.id()).key("isrc", &isrc);
            f.title = "Dormant ISRC".into();
            f.explanation = format!("{isrc} ({}) is in the catalogue but appears on no statement and in no sales data for {} periods.", t.title.as_deref().unwrap_or(""), periods.len());
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(store: &str, month: u32) -> (Key, Period) {
        ((Some(LineText::from(store)), None, Some(LineText::from("GBBEN2400001"))), Period::month(2024, month).unwrap())
    }

    #[test]
    fn a_repeated_sales_line_is_one_after_the_first_of_its_key() {
        use crate::ledger::{Currency, LineKind, SourceRef, StatementKind};
        let line = |row: u64, isrc: &str, net: i64| {
            let mut l = LedgerLine::new(SourceRef::new("d.csv", None, row), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
            l.isrc = Some(isrc.into());
            l.sale_period = Period::month(2024, 1);
            l.net = Some(Decimal::from(net));
            l
        };
        let mut rolled = line(5, "A", 1);
        rolled.rows = 3;
        let mut undated = line(6, "A", 1);
        undated.sale_period = None;
        let mut same_value = line(7, "B", 2);
        same_value.net = Some(Decimal::new(200, 2));
        let lines = [line(1, "A", 1), line(2, "B", 2), line(3, "A", 1), line(4, "A", 9), rolled, undated, same_value, line(8, "A", 1)];
        let refs: Vec<&LedgerLine> = lines.iter().collect();
        // Rolled-up and undated lines are never repeats; 2.00 is 2.
        assert_eq!(repeated_lines(&refs), [false, false, true, false, false, false, true, true]);
    }

    #[test]
    fn the_join_finds_the_pair_or_a_candidate_the_caller_checks() {
        let (a, b, c) = (pair("Spotify", 1), pair("Spotify", 2), pair("Deezer", 1));
        let right = [b, c, a, b];
        assert_eq!(join_on_key_and_period(&[a, b], None, right.iter().copied(), pair_hash), vec![Some(1), None, Some(0), Some(1)]);
        // The left side sorted by the caller: the same join.
        let sorted = by_hash([a, b].into_iter().map(Some), pair_hash);
        assert_eq!(join_on_key_and_period(&[a, b], Some(sorted), right.iter().copied(), pair_hash), vec![Some(1), None, Some(0), Some(1)]);
        // Colliding left pairs are compared here.
        assert_eq!(join_on_key_and_period(&[a, b], None, right.iter().copied(), |_| 7), vec![Some(1), None, Some(0), Some(1)]);
        // One left pair per hash: its position is the candidate (checked by the caller).
        assert_eq!(join_on_key_and_period(&[a], None, [c].into_iter(), |_| 7), vec![Some(0)]);
        assert_eq!(join_on_key_and_period(&[], None, right.iter().copied(), pair_hash), vec![None; 4]);
    }
}
