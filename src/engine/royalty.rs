//! The recomputation of each income line of the audited statements (domain.md §1.1):
//!
//! ```text
//! price-based:    expected = royalty-bearing units × contract price × (1 − packaging) × rate × territory factor × proration
//! receipts-based: expected = receipts (before disallowed fees) × rate × territory factor × proration
//! ```
//!
//! The difference with what the statement credited is split into the rules that explain it
//! by substituting the contract's figures for the statement's one at a time, in a fixed
//! order: the statement's own arithmetic (A2), free goods (C5), packaging (C4), price (C2),
//! fees (C8), then the rate (C1, or C3/C6/C7/C11 when the rate gap has that cause). The
//! parts always add up to expected − reported exactly. Nothing is rounded here.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::context::Ctx;
use super::finding::Rule;
use crate::contract::{pct, times, Base, Contract, Counting, EscalationMode, RoyaltyTerm};
use crate::ledger::{IncomeType, LedgerLine, LineKind, LineText, Period};

/// A statement line's recomputation. Kept for every income line of a statement (hundreds of
/// thousands in a large one), so what few lines have (the parts of a gap beyond tolerance,
/// the working, why a line could not be recomputed) is in one box, allocated only for them.
#[derive(Debug, Clone)]
pub struct LineCalc {
    /// Index into `Ctx::statement`.
    pub idx: usize,
    pub period: Option<Period>,
    pub term: Option<usize>,
    /// The territory group (interned: a handful of names, one for each of a large
    /// statement's lines).
    pub group: crate::ledger::LineText,
    pub reported: Decimal,
    pub expected: Decimal,
    /// Royalty base after every reduction but before the rate (producers are paid on it).
    pub base_amount: Decimal,
    pub within_tolerance: bool,
    pub applied_rate: Option<Decimal>,
    /// The contract's effective rate (blended when a line crosses an escalation threshold).
    pub expected_rate: Decimal,
    /// The statement credits the artist net of producer points (the producer is paid
    /// outside the artist's account), and the expected royalty is computed the same way.
    pub net_presentation: bool,
    notes: Option<Box<CalcNotes>>,
}

/// What few lines' recomputations have (see [`LineCalc`]).
#[derive(Debug, Clone, Default)]
struct CalcNotes {
    components: Vec<(Rule, Decimal)>,
    trail: Vec<String>,
    problem: Option<String>,
}

impl LineCalc {
    /// Parts of expected − reported, by rule; empty when within tolerance.
    pub fn components(&self) -> &[(Rule, Decimal)] {
        self.notes.as_ref().map_or(&[], |n| &n.components)
    }

    /// The working, when it was asked for.
    pub fn trail(&self) -> &[String] {
        self.notes.as_ref().map_or(&[], |n| &n.trail)
    }

    /// Why the line could not be recomputed.
    pub fn problem(&self) -> Option<&str> {
        self.notes.as_ref().and_then(|n| n.problem.as_deref())
    }

    fn set_problem(&mut self, why: String) {
        self.notes.get_or_insert_with(Default::default).problem = Some(why);
    }
}

fn d(v: Decimal) -> String {
    v.normalize().to_string()
}

fn pc(v: Decimal) -> String {
    format!("{}%", (v * Decimal::ONE_HUNDRED).normalize())
}

/// Rates are compared to 4 decimal places of a percent (domain.md §6.1).
pub fn same_rate(a: Decimal, b: Decimal) -> bool {
    (a - b).abs() < Decimal::new(5, 7)
}

/// A line's configuration as contracts list configurations (trimmed, lower case).
pub(crate) fn configuration(line: &LedgerLine) -> Option<String> {
    line.sale_type.as_ref().map(|s| s.trim().to_lowercase())
}

/// [`configuration`] for looking up a line's term: [`Contract::term_for`] compares
/// configurations without regard to ASCII case, so an ASCII one is used as written (saving
/// a String a line); others are lower-cased.
fn term_configuration(line: &LedgerLine) -> Option<std::borrow::Cow<'_, str>> {
    line.sale_type.as_deref().map(str::trim).map(|t| if t.is_ascii() { std::borrow::Cow::Borrowed(t) } else { std::borrow::Cow::Owned(t.to_lowercase()) })
}

/// The contract price for a line's configuration, if the contract lists one.
fn contract_price(c: &Contract, term: &RoyaltyTerm, line: &LedgerLine) -> Option<Decimal> {
    if term.base == Base::Fixed {
        return term.fixed_price;
    }
    let release = c.release_of(line)?;
    let config = configuration(line);
    config
        .as_ref()
        .and_then(|k| release.prices.get(k))
        .or_else(|| line.income_type.and_then(|t| release.prices.get(crate::contract::income_type_name(t))))
        .copied()
}

/// Compilation proration: the artist's tracks over the tracks on the product (1 for a track).
fn proration(c: &Contract, line: &LedgerLine) -> Decimal {
    if line.isrc.is_some() {
        return Decimal::ONE;
    }
    match c.release_of(line) {
        Some(r) => match (r.artist_tracks, r.tracks) {
            (Some(a), Some(t)) if t > 0 => Decimal::from(a) / Decimal::from(t),
            _ => Decimal::ONE,
        },
        None => Decimal::ONE,
    }
}

/// Tier rate (as a fraction) after `cum` units.
fn tier_rate(term: &RoyaltyTerm, cum: Decimal) -> Decimal {
    let mut rate = term.rate;
    if let Some(e) = &term.escalation {
        for t in &e.tiers {
            if cum >= t.from_units {
                rate = t.rate;
            }
        }
    }
    pct(rate)
}

/// Split `units` sold after `cum` across the escalation tiers: (units, rate) portions.
fn portions(term: &RoyaltyTerm, cum: Decimal, units: Decimal) -> Vec<(Decimal, Decimal)> {
    let Some(e) = &term.escalation else {
        return vec![(units, pct(term.rate))];
    };
    if units <= Decimal::ZERO {
        return vec![(units, tier_rate(term, cum))];
    }
    let mut out = Vec::new();
    let (mut at, end) = (cum, cum + units);
    for t in &e.tiers {
        if t.from_units > at && t.from_units < end {
            out.push((t.from_units - at, tier_rate(term, at)));
            at = t.from_units;
        }
    }
    out.push((end - at, tier_rate(term, at)));
    out
}

#[derive(Default)]
struct EscalationState {
    cum: Decimal,
    /// Base amounts credited so far (for retroactive escalation).
    prior_base: Decimal,
    rate: Option<Decimal>,
}

/// The order of recomputation: statement period, sale period, then the source (file rank,
/// sheet, row, column).
type SortKey<'a> = (Option<Period>, Option<Period>, usize, Option<&'a str>, u64, Option<&'a str>);

/// Recompute every income line of the audited statements, oldest first.
pub fn recompute(ctx: &Ctx) -> Vec<LineCalc> {
    let c = ctx.contract;
    // Oldest first: by statement period, sale period and source (file, sheet, row, column).
    // The sort keys are gathered first, files as their rank among the files' names, so that a
    // comparison reads two keys side by side, not two ledger lines.
    let mut files: Vec<LineText> = Vec::new();
    let mut last: Option<LineText> = None;
    for l in &ctx.statement {
        // Lines of a file come together: most lines are of the file just seen.
        if last == Some(l.source.file) {
            continue;
        }
        last = Some(l.source.file);
        if !files.contains(&l.source.file) {
            files.push(l.source.file);
        }
    }
    // (Interned names, ordered by their text: one name is one file, however many times it
    // was read.)
    files.sort();
    let order = recompute_order(ctx, &files);
    let mut escalation: BTreeMap<(usize, String), EscalationState> = BTreeMap::new();
    // The working (trail) is only read for lines whose gap is a finding. Without escalation
    // tiers a line's computation has no state, so it is computed without its working and,
    // when it shows a gap, again with it; with tiers, always with it.
    let stateless = c.terms.royalties.iter().all(|t| t.get_ref().escalation.is_none());
    // Each term's rate as a fraction, worked out once (a division) rather than for each line.
    let rates: Vec<Decimal> = c.terms.royalties.iter().map(|t| pct(t.get_ref().rate)).collect();
    let mut out = Vec::with_capacity(order.len());
    // The line a few ahead in the order is prefetched: by period first, the order skips
    // about a large statement, and a line's first read had been half of `calc_line`'s time.
    const AHEAD: usize = 4;
    for (i, &idx) in order.iter().enumerate() {
        if let Some(line) = order.get(i + AHEAD).and_then(|a| ctx.statement.get(*a)) {
            crate::prefetch::prefetch(*line);
        }
        let calc = calc_line(ctx, idx, &mut escalation, !stateless, &rates);
        if stateless && calc.problem().is_none() && !calc.within_tolerance {
            out.push(calc_line(ctx, idx, &mut escalation, true, &rates));
        } else {
            out.push(calc);
        }
    }
    out
}

/// The working of a line's recomputation, written out only when asked for.
struct Trail {
    on: bool,
    lines: Vec<String>,
}

impl Trail {
    fn push(&mut self, line: impl FnOnce() -> String) {
        if self.on {
            self.lines.push(line());
        }
    }
}

/// The income lines of `ctx.statement` (by position) in the order of recomputation:
/// by statement period, sale period, file (its rank in `files`, names in order), sheet, row
/// and column, the line's position breaking ties. Statement lines come in the order of their
/// sources nearly always (each file's lines in row order, files in name order): then only the
/// periods order them, and the lines are put in order by their periods' pairs (a handful)
/// without sorting them all; otherwise they are sorted on the whole key.
fn recompute_order(ctx: &Ctx, files: &[LineText]) -> Vec<usize> {
    let mut last_file: Option<(LineText, usize)> = None;
    let mut rank = |f: LineText| match last_file {
        Some((g, r)) if g == f => r,
        _ => {
            let r = files.iter().position(|g| *g == f).unwrap_or(0);
            last_file = Some((f, r));
            r
        }
    };
    type SourceKey<'a> = (usize, Option<&'a str>, u64, Option<&'a str>);
    type Periods = (Option<Period>, Option<Period>);
    // Each pair of periods' lines, in the order of the statement; the pairs in order.
    let mut lists: Vec<Vec<usize>> = Vec::new();
    let mut by_periods: BTreeMap<Periods, usize> = BTreeMap::new();
    let mut last: Option<(Periods, usize, SourceKey)> = None;
    let mut in_source_order = true;
    for (i, l) in ctx.statement.iter().enumerate() {
        if l.line_kind != LineKind::Income {
            continue;
        }
        let s = &l.source;
        let source: SourceKey = (rank(s.file), s.sheet.as_deref(), s.row, s.column.as_deref());
        let periods = (Ctx::period_of(l), l.sale_period);
        if let Some((_, _, before)) = &last
            && *before > source
        {
            in_source_order = false;
            break;
        }
        // (Consecutive lines often share their periods: the pair's list is looked up once a run.)
        let list = match last {
            Some((p, list, _)) if p == periods => list,
            _ => *by_periods.entry(periods).or_insert_with(|| {
                lists.push(Vec::new());
                lists.len() - 1
            }),
        };
        if let Some(l) = lists.get_mut(list) {
            l.push(i);
        }
        last = Some((periods, list, source));
    }
    if in_source_order {
        return by_periods.into_values().filter_map(|list| lists.get_mut(list).map(std::mem::take)).flatten().collect();
    }
    let mut keyed: Vec<(SortKey, usize)> = (0..ctx.statement.len())
        .filter(|&i| ctx.statement[i].line_kind == LineKind::Income)
        .map(|i| {
            let l = ctx.statement[i];
            let s = &l.source;
            ((Ctx::period_of(l), l.sale_period, rank(s.file), s.sheet.as_deref(), s.row, s.column.as_deref()), i)
        })
        .collect();
    // (The line's position breaks ties: the order of a stable sort, without its buffer.)
    keyed.sort_unstable();
    keyed.into_iter().map(|k| k.1).collect()
}

/// An amount or rate through the territory factor and the proration, multiplied in that
/// order (each skipped when it is exactly one: [`times`]).
fn factored(x: Decimal, factor: Decimal, proration: Decimal) -> Decimal {
    times(times(x, factor), proration)
}

/// Recompute one income line (`idx` into `ctx.statement`), advancing the escalation state
/// (`rates`: each term's rate as a fraction).
fn calc_line(ctx: &Ctx, idx: usize, escalation: &mut BTreeMap<(usize, String), EscalationState>, with_trail: bool, rates: &[Decimal]) -> LineCalc {
    let c = ctx.contract;
    let line = ctx.statement[idx];
    let release = c.release_of(line);
    let price_category = release.and_then(|r| r.price_category.as_deref()).or(line.details().price_category.as_deref());
    let date = line.sale_period.or(line.accounting_period).map(|p| p.start);
    let config = term_configuration(line);
    let term_ix = c.term_for(line.income_type, config.as_deref(), line.details().channel.as_deref(), price_category, date);
    let group = c.line_territory_group(line);
    let reported = line.royalty.unwrap_or_default();
    let mut calc = LineCalc {
        idx,
        period: Ctx::period_of(line),
        term: term_ix,
        group: crate::ledger::intern(group),
        reported,
        expected: reported,
        base_amount: Decimal::ZERO,
        within_tolerance: true,
        applied_rate: line.royalty_rate,
        expected_rate: Decimal::ZERO,
        net_presentation: false,
        notes: None,
    };
    let Some(ti) = term_ix else {
        calc.set_problem(format!(
            "no [[royalties]] term covers {} {}",
            line.income_type.map(crate::contract::income_type_name).unwrap_or("other"),
            configuration(line).unwrap_or_default()
        ));
        return calc;
    };
    let term = c.terms.royalties[ti].get_ref();
    let term_rate = rates.get(ti).copied().unwrap_or_else(|| pct(term.rate));
    let Some(factor) = c.factor(term, group) else {
        calc.set_problem(format!("{} lists no factor for {group} (nor rest_of_world)", c.term_clause(ti)));
        return calc;
    };
    let q = proration(c, line);
    let through_factors = |x: Decimal| factored(x, factor, q);
    let receipts = term.base == Base::NetReceipts;
    let ra = line.royalty_rate;
    let esc_key = term.escalation.as_ref().map(|e| {
        let k = match e.counting {
            Counting::PerRelease => release
                .map(|r| r.id.clone())
                .or(line.upc.as_ref().map(|u| u.to_string()))
                .or(line.isrc.as_ref().map(|i| i.to_string()))
                .unwrap_or_default(),
            Counting::Cumulative => String::new(),
        };
        (ti, k)
    });
    let counts = term.escalation.as_ref().is_some_and(|e| e.count_territories.is_empty() || e.count_territories.iter().any(|t| t == group));
    let mut trail = Trail { on: with_trail, lines: Vec::new() };
    trail.push(|| {
        format!(
            "{} row {}: {} {} {} {}; term {}; territory group {group} factor {}; proration {}",
            line.source.file,
            line.source.row,
            line.store.as_deref().unwrap_or("-"),
            line.territory.as_ref().map(|t| t.code()).unwrap_or("-"),
            line.isrc.as_deref().or(line.upc.as_deref()).unwrap_or("-"),
            line.sale_period.map(|p| p.to_string()).unwrap_or_default(),
            c.term_clause(ti),
            pc(factor),
            d(q)
        )
    });
    // (On the stack: most lines are within tolerance, and their parts are not kept.)
    let mut comps: smallvec::SmallVec<[(Rule, Decimal); 6]> = smallvec::SmallVec::new();
    let (expected, stated, base_amount, s_before_rate, rate_units);
    if receipts {
        let Some(net_a) = line.net else {
            calc.set_problem("a receipts-based term but the line shows no receipts".into());
            return calc;
        };
        let mut excess_fee = Decimal::ZERO;
        if let Some(fees) = line.fees.filter(|f| *f > Decimal::ZERO) {
            let allowed = if term.fees_deductible == Some(false) {
                Decimal::ZERO
            } else if let Some(m) = term.max_fee_pct {
                line.gross.map(|g| g * pct(m)).unwrap_or(fees)
            } else {
                fees
            };
            if fees > allowed {
                excess_fee = fees - allowed;
                trail.push(|| format!("fees deducted {} but the contract allows {} → receipts base {} + {}", d(fees), d(allowed), d(net_a), d(excess_fee)));
            }
        }
        // Withholding tax taken from the receipts beyond the contract's rate for the
        // territory (only when the contract has a [withholding] table).
        let withholding = &c.terms.withholding;
        if let Some(taxes) = line.taxes.filter(|t| *t > Decimal::ZERO && !withholding.is_empty()) {
            let code = line.territory.as_ref().map(|t| t.code().to_string()).unwrap_or_default();
            let allowed_pct = withholding
                .iter()
                .find(|(k, _)| crate::ledger::Territory::parse(k).is_some_and(|t| t.code() == code))
                .map(|(_, v)| pct(*v))
                .unwrap_or_default();
            let allowed = (net_a + taxes) * allowed_pct;
            if taxes > allowed {
                trail.push(|| format!("withholding tax {} taken where the contract allows {} for {code} → added back", d(taxes), d(allowed)));
                excess_fee += taxes - allowed;
            }
        }
        let base_exp = net_a + excess_fee;
        base_amount = through_factors(base_exp);
        let state = esc_key.as_ref().map(|k| escalation.entry(k.clone()).or_default());
        // Units that count toward an escalation: streams converted at the contract's
        // streams_per_unit (domain.md §1.7), other units as they are.
        let per_unit = term.escalation.as_ref().and_then(|e| e.streams_per_unit).filter(|_| line.income_type == Some(IncomeType::Stream));
        let counted = line.units.unwrap_or_default() / per_unit.unwrap_or(Decimal::ONE);
        let rate: Decimal = match state {
            Some(s) if counts && counted > Decimal::ZERO => {
                let rate = portions(term, s.cum, counted).into_iter().map(|(u, r)| u / counted * r).sum();
                s.cum += counted;
                rate
            }
            Some(s) => tier_rate(term, s.cum),
            None => term_rate,
        };
        expected = through_factors(base_exp * rate);
        trail.push(|| format!("expected = receipts {} × rate {} × factor {} × proration {} = {}", d(base_exp), pc(rate), pc(factor), d(q), d(expected)));
        calc.expected_rate = through_factors(rate);
        rate_units = None;
        match ra {
            Some(r) => {
                stated = Some(net_a * r);
                let s1 = base_exp * r;
                comps.push((Rule::C8, s1 - net_a * r));
                s_before_rate = Some(s1);
            }
            None => {
                stated = None;
                s_before_rate = None;
            }
        }
    } else {
        let Some(units) = line.units else {
            calc.set_problem("a price-based term but the line shows no units".into());
            return calc;
        };
        let free_a = line.details().free_units.unwrap_or_default();
        let cap = term.free_goods_pct.map(pct).unwrap_or_default();
        let free_allowed = free_a.min(units * cap).max(Decimal::ZERO);
        let rb_exp = units - free_allowed;
        let rb_a = units - free_a;
        let c_a = line.details().container_pct.unwrap_or_default();
        let c_exp = term.container_pct.map(pct).unwrap_or_default();
        let p_exp = contract_price(c, term, line);
        let p_a = line.details().unit_price;
        let Some(price) = p_exp.or(p_a) else {
            calc.set_problem("no price on the line and none in the contract for this configuration".into());
            return calc;
        };
        if p_exp.is_none() {
            trail.push(|| format!("price {} as stated (the contract lists no price for this configuration)", d(price)));
        }
        let unit_base = price * (Decimal::ONE - c_exp);
        let mut e = Decimal::ZERO;
        let state = esc_key.as_ref().map(|k| escalation.entry(k.clone()).or_default());
        match state {
            Some(s) if counts => {
                let before = tier_rate(term, s.cum);
                let after = tier_rate(term, s.cum + rb_exp);
                let retroactive = term.escalation.as_ref().is_some_and(|x| x.mode == EscalationMode::Retroactive);
                if retroactive && after != before {
                    e = through_factors(rb_exp * unit_base * after);
                    trail.push(|| format!("{} units × {} × rate {} × factor {} × proration {} (threshold crossed)", d(rb_exp), d(unit_base), pc(after), pc(factor), d(q)));
                    let retro = s.prior_base * (after - before);
                    trail.push(|| format!("retroactive escalation: earlier base {} × ({} − {}) = {}", d(s.prior_base), pc(after), pc(before), d(retro)));
                    e += retro;
                } else {
                    for (u, r) in portions(term, s.cum, rb_exp) {
                        e += through_factors(u * unit_base * r);
                        trail.push(|| format!("{} units × {} × rate {} × factor {} × proration {} (cumulative {} before)", d(u), d(unit_base), pc(r), pc(factor), d(q), d(s.cum)));
                    }
                }
                s.cum += rb_exp;
                s.prior_base += through_factors(rb_exp * unit_base);
                s.rate = Some(after);
            }
            Some(s) => {
                let r = tier_rate(term, s.cum);
                e = through_factors(rb_exp * unit_base * r);
                trail.push(|| format!("{} units × {} × rate {} × factor {} × proration {}", d(rb_exp), d(unit_base), pc(r), pc(factor), d(q)));
            }
            None => {
                let r = pct(term.rate);
                e = through_factors(rb_exp * unit_base * r);
                trail.push(|| format!("{} units × {} × rate {} × factor {} × proration {}", d(rb_exp), d(unit_base), pc(r), pc(factor), d(q)));
            }
        }
        if free_allowed != free_a {
            trail.push(|| format!("free goods: statement {} units, contract allows {} ({} of {})", d(free_a), d(free_allowed), pc(cap), d(units)));
        }
        if c_exp != Decimal::ZERO || c_a != Decimal::ZERO {
            trail.push(|| format!("packaging: statement {}, contract {}", pc(c_a), pc(c_exp)));
        }
        expected = e;
        base_amount = through_factors(rb_exp * unit_base);
        calc.expected_rate = if rb_exp.is_zero() || unit_base.is_zero() { Decimal::ZERO } else { e / (rb_exp * unit_base) };
        trail.push(|| format!("expected = {}", d(expected)));
        rate_units = Some(rb_exp);
        match ra {
            Some(r) => {
                let pa = p_a.unwrap_or(price);
                let s0 = rb_a * pa * (Decimal::ONE - c_a) * r;
                let s1 = rb_exp * pa * (Decimal::ONE - c_a) * r;
                let s2 = rb_exp * pa * (Decimal::ONE - c_exp) * r;
                let s3 = rb_exp * price * (Decimal::ONE - c_exp) * r;
                comps.push((Rule::C5, s1 - s0));
                comps.push((Rule::C4, s2 - s1));
                comps.push((Rule::C2, s3 - s2));
                stated = Some(s0);
                s_before_rate = Some(s3);
            }
            None => {
                stated = None;
                s_before_rate = None;
            }
        }
    }
    let _ = rate_units;
    let mut expected = expected;
    let points = super::checks::producers::points_on(c, line);
    if points > Decimal::ZERO
        && let Some(r) = ra
    {
        let net_rate = calc.expected_rate - through_factors(pct(points));
        if same_rate(r, net_rate) && !same_rate(r, calc.expected_rate) {
            let producer = base_amount * pct(points);
            expected -= producer;
            calc.expected_rate = net_rate;
            calc.net_presentation = true;
            trail.push(|| format!("net presentation: the artist is credited after {} producer points; expected less {} = {}", d(points), d(producer), d(expected)));
        }
    }
    calc.expected = expected;
    calc.base_amount = base_amount;
    if let Some(s) = stated {
        trail.push(|| format!("statement's own arithmetic = {} (credited {})", d(s), d(reported)));
        comps.insert(0, (Rule::A2, s - reported));
    }
    let rate_gap = match s_before_rate {
        Some(s3) => expected - s3,
        None => expected - reported,
    };
    comps.push((classify_rate_gap(line, term, term_rate, group, factor, q, ra, calc.expected_rate, release.and_then(|r| r.price_category.as_deref())), rate_gap));
    let total = expected - reported;
    let tol = ctx.tol(expected);
    calc.within_tolerance = total.abs() <= tol;
    let components = if calc.within_tolerance { Vec::new() } else { fold(&comps, tol, total) };
    if !components.is_empty() || !trail.lines.is_empty() {
        let notes = calc.notes.get_or_insert_with(Default::default);
        notes.components = components;
        notes.trail = trail.lines;
    }
    calc
}

/// Keep the parts above tolerance; fold the small ones into the largest so the sum stays
/// exactly expected − reported.
fn fold(comps: &[(Rule, Decimal)], tol: Decimal, total: Decimal) -> Vec<(Rule, Decimal)> {
    let mut keep: Vec<(Rule, Decimal)> = comps.iter().copied().filter(|(_, v)| v.abs() > tol).collect();
    if keep.is_empty() {
        let largest = comps.iter().copied().max_by_key(|(_, v)| v.abs()).unwrap_or((Rule::C1, total));
        return vec![(largest.0, total)];
    }
    let kept: Decimal = keep.iter().map(|(_, v)| *v).sum();
    let rest = total - kept;
    if !rest.is_zero() {
        let i = (0..keep.len()).max_by_key(|&i| keep[i].1.abs()).unwrap_or(0);
        keep[i].1 += rest;
    }
    keep
}

/// Which rule explains a gap between the applied and the contract rate.
#[allow(clippy::too_many_arguments)]
fn classify_rate_gap(
    line: &LedgerLine,
    term: &RoyaltyTerm,
    // The term's rate as a fraction.
    term_rate: Decimal,
    group: &str,
    factor: Decimal,
    q: Decimal,
    applied: Option<Decimal>,
    expected_rate: Decimal,
    contract_category: Option<&str>,
) -> Rule {
    if let (Some(stated), Some(contractual)) = (line.details().price_category.as_deref(), contract_category)
        && !stated.trim().eq_ignore_ascii_case(contractual.trim())
    {
        return Rule::C11;
    }
    if line.details().channel.as_deref().is_some_and(|ch| ch.to_lowercase().contains("promo")) && line.units.is_some_and(|u| u > Decimal::ZERO) {
        return Rule::C11;
    }
    if matches!(line.income_type, Some(IncomeType::Sync)) {
        return Rule::C7;
    }
    let Some(applied) = applied else { return Rule::C1 };
    let base_rate = factored(term_rate, factor, q);
    if term.escalation.is_some() && same_rate(applied, base_rate) && !same_rate(applied, expected_rate) {
        return Rule::C6;
    }
    for (g, f) in &term.territory_factors {
        if g != group && pct(*f) != factor && same_rate(applied, term_rate * pct(*f) * q) {
            return Rule::C3;
        }
    }
    if group == crate::contract::HOME && factor == Decimal::ONE && !term.territory_factors.is_empty() && applied < base_rate {
        // A home sale given some foreign reduction.
        if term.territory_factors.values().any(|f| same_rate(applied, term_rate * pct(*f) * q)) {
            return Rule::C3;
        }
    }
    Rule::C1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order of recomputation, sorted on the whole key (what [`recompute_order`] gives).
    fn sorted_order(ctx: &Ctx, files: &[LineText]) -> Vec<usize> {
        let rank = |f: &LineText| files.iter().position(|g| g == f).unwrap_or(0);
        let mut keyed: Vec<(SortKey, usize)> = (0..ctx.statement.len())
            .filter(|&i| ctx.statement[i].line_kind == LineKind::Income)
            .map(|i| {
                let l = ctx.statement[i];
                let s = &l.source;
                ((Ctx::period_of(l), l.sale_period, rank(&s.file), s.sheet.as_deref(), s.row, s.column.as_deref()), i)
            })
            .collect();
        keyed.sort();
        keyed.into_iter().map(|k| k.1).collect()
    }

    #[test]
    fn lines_are_recomputed_in_the_order_of_their_periods_then_sources() {
        use crate::import::FileImport;
        use crate::ledger::{Currency, SourceRef, StatementKind};
        let contract = match crate::contract::parse_contract("[contract]\nid = \"t\"\npayee = \"P\"\ncurrency = \"USD\"\n", "t.toml") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let line = |file: &str, row: u64, period: u32, month: u32, kind: LineKind| {
            let usd = Currency::parse("USD").unwrap_or_else(|| unreachable!());
            let mut l = LedgerLine::new(SourceRef::new(file, None, row), "p", StatementKind::Label, kind, usd);
            l.accounting_period = Period::half(2024, period);
            l.sale_period = Period::month(2024, month);
            l
        };
        // Each case: the files' lines as read. In source order (files in name order, rows in
        // order), the fast path orders them; out of it, the full sort does. Both must give the
        // whole key's order.
        let cases: Vec<Vec<(&str, Vec<LedgerLine>)>> = vec![
            vec![("a.csv", vec![line("a.csv", 2, 2, 9, LineKind::Income), line("a.csv", 3, 1, 2, LineKind::Income), line("a.csv", 4, 1, 1, LineKind::Charge), line("a.csv", 5, 1, 1, LineKind::Income), line("a.csv", 6, 1, 2, LineKind::Income)]), ("b.csv", vec![line("b.csv", 2, 1, 1, LineKind::Income), line("b.csv", 3, 2, 9, LineKind::Income)])],
            vec![("b.csv", vec![line("b.csv", 2, 1, 1, LineKind::Income)]), ("a.csv", vec![line("a.csv", 2, 1, 1, LineKind::Income), line("a.csv", 3, 1, 1, LineKind::Income)])],
            vec![("a.csv", vec![line("a.csv", 5, 1, 3, LineKind::Income), line("a.csv", 2, 1, 3, LineKind::Income), line("a.csv", 3, 1, 1, LineKind::Income)])],
        ];
        for files in cases {
            let imports: Vec<FileImport> = files.into_iter().map(|(name, lines)| FileImport { file: name.into(), lines, ..Default::default() }).collect();
            let ctx = Ctx::new(&contract, &imports, &Default::default());
            let mut names: Vec<LineText> = imports.iter().map(|f| LineText::from(f.file.as_str())).collect();
            names.sort();
            let got = recompute_order(&ctx, &names);
            assert_eq!(got, sorted_order(&ctx, &names));
            assert_eq!(got.len(), ctx.statement.iter().filter(|l| l.line_kind == LineKind::Income).count());
        }
    }

    #[test]
    fn fold_keeps_the_sum() {
        let comps = vec![(Rule::A2, Decimal::new(4, 3)), (Rule::C1, Decimal::new(2000, 2)), (Rule::C5, Decimal::new(1000, 2))];
        let total = Decimal::new(30004, 3);
        let f = fold(&comps, Decimal::new(1, 2), total);
        assert_eq!(f, vec![(Rule::C1, Decimal::new(20004, 3)), (Rule::C5, Decimal::new(1000, 2))]);
        assert_eq!(f.iter().map(|x| x.1).sum::<Decimal>(), total);
    }
}
