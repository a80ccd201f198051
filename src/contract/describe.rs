//! `check-contract`: say back, in plain words, what the tool understood from a contract file,
//! and which checks its terms leave unevaluable.

use std::fmt::Write;

use rust_decimal::Decimal;

use super::model::*;
use super::Contract;

fn p(v: Decimal) -> String {
    format!("{}%", v.normalize())
}

/// A readable account of the contract's terms.
pub fn describe(c: &Contract) -> String {
    let t = &c.terms;
    let h = &t.contract;
    let mut o = String::new();
    let _ = writeln!(o, "Contract {} ({})", h.id, c.path);
    if let Some(title) = &h.title {
        let _ = writeln!(o, "  {title}");
    }
    let kind = match h.kind {
        DealKind::Royalty => "royalty deal",
        DealKind::Distribution => "distribution deal",
    };
    let _ = writeln!(o, "  {kind}; payee {}; label {}; currency {}", h.payee, h.label.as_deref().unwrap_or("(not named)"), c.currency.code());
    let _ = writeln!(
        o,
        "  term {} to {}; accounting {}; statements due {} days after period end; minimum payment {}",
        h.start.map(|d| d.to_string()).unwrap_or_else(|| "(open)".into()),
        h.end.map(|d| d.to_string()).unwrap_or_else(|| "(open)".into()),
        h.accounting.map(|a| format!("{a:?}").to_lowercase()).unwrap_or_else(|| "(not given)".into()),
        h.statement_due_days.map(|d| d.to_string()).unwrap_or_else(|| "(not given)".into()),
        h.minimum_payment.map(|d| d.to_string()).unwrap_or_else(|| "none".into()),
    );
    let _ = writeln!(o, "Territories: home {}", if t.territories.home.is_empty() { "(none)".into() } else { t.territories.home.join(" ") });
    for (g, codes) in &t.territories.groups {
        let _ = writeln!(o, "  {g}: {}", codes.join(" "));
    }
    let _ = writeln!(o, "  rest_of_world: every other territory");
    if !t.accounts.is_empty() {
        let _ = writeln!(o, "Accounts:");
        for a in &t.accounts {
            let a = a.get_ref();
            let _ = writeln!(o, "  {} {} (statement accounts: {})", a.id, a.title.as_deref().unwrap_or(""), a.statement_accounts.join(", "));
        }
    }
    let _ = writeln!(o, "Catalogue: {} release(s), {} track(s)", t.releases.len(), t.tracks.len());
    for r in &t.releases {
        let r = r.get_ref();
        let prices: Vec<String> = r.prices.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            o,
            "  {} {} upc {} released {} account {}{}",
            r.id,
            r.title.as_deref().unwrap_or(""),
            r.upc.as_deref().unwrap_or("-"),
            r.release_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            r.account.as_deref().unwrap_or("-"),
            if prices.is_empty() { String::new() } else { format!("; prices {}", prices.join(", ")) }
        );
    }
    let _ = writeln!(o, "Royalty terms (first match wins):");
    for (i, term) in t.royalties.iter().enumerate() {
        let r = term.get_ref();
        let mut line = format!("  {}: {} on {:?}", c.term_clause(i), p(r.rate), r.base);
        let _ = write!(line, " for {}", r.income_types.join("/"));
        for (label, list) in [("configurations", &r.configurations), ("channels", &r.channels), ("price categories", &r.price_categories)] {
            if !list.is_empty() {
                let _ = write!(line, "; {label} {}", list.join("/"));
            }
        }
        if !r.territory_factors.is_empty() {
            let f: Vec<String> = r.territory_factors.iter().map(|(g, v)| format!("{g} {}", p(*v))).collect();
            let _ = write!(line, "; territory factors {}", f.join(", "));
        }
        if let Some(v) = r.container_pct {
            let _ = write!(line, "; packaging {}", p(v));
        }
        if let Some(v) = r.free_goods_pct {
            let _ = write!(line, "; free goods up to {}", p(v));
        }
        if let Some(e) = &r.escalation {
            let tiers: Vec<String> = e.tiers.iter().map(|x| format!("{} above {} units", p(x.rate), x.from_units)).collect();
            let _ = write!(line, "; escalation ({:?}, {:?}) {}", e.counting, e.mode, tiers.join(", "));
        }
        let _ = writeln!(o, "{line}");
    }
    match &t.recoupable {
        Some(r) => {
            let list: Vec<String> = r.get_ref().0.iter().map(|(k, v)| format!("{k} {}", p(*v))).collect();
            let _ = writeln!(o, "Recoupable: {}; anything else is not recoupable", list.join(", "));
        }
        None => {
            let _ = writeln!(o, "Recoupable: (not given) — charges cannot be checked");
        }
    }
    for a in &t.advances {
        let a = a.get_ref();
        let _ = writeln!(o, "Advance: {} {} {}", a.amount, a.account.as_deref().unwrap_or(""), a.description.as_deref().unwrap_or(""));
    }
    for e in &t.cross_collateralisation {
        let e = e.get_ref();
        let _ = writeln!(o, "Cross-collateralised: credits of {} may recoup {}", e.credits_of, e.may_recoup);
    }
    if let Some(r) = &t.reserves {
        let r = r.get_ref();
        let _ = writeln!(
            o,
            "Reserves: at most {} of {} royalties, liquidated {:?} over {} period(s)",
            p(r.cap_pct),
            r.applies_to.join("/"),
            r.liquidation,
            r.periods
        );
    }
    for pr in &t.producers {
        let pr = pr.get_ref();
        let _ = writeln!(
            o,
            "Producer {}: {} points on {}{}; advance {}; trigger {:?}",
            pr.name,
            pr.points,
            if pr.releases.is_empty() { pr.isrcs.join(", ") } else { pr.releases.join(", ") },
            match (pr.tracks_produced, pr.tracks_total) {
                (Some(a), Some(b)) => format!(" ({a} of {b} tracks)"),
                _ => String::new(),
            },
            pr.advance,
            pr.trigger
        );
    }
    for s in &t.splits {
        let s = s.get_ref();
        let shares: Vec<String> = s.shares.iter().map(|(k, v)| format!("{k} {}", p(*v))).collect();
        let _ = writeln!(o, "Split {}: {}", s.isrc.as_deref().or(s.release.as_deref()).unwrap_or(""), shares.join(", "));
    }
    if let Some(d) = &t.distribution {
        let _ = writeln!(o, "Distribution commission: {}", p(d.get_ref().commission_pct));
    }
    if let Some(fx) = &t.fx {
        let fx = fx.get_ref();
        let _ = writeln!(
            o,
            "FX: reference {} ({:?}), tolerance {}",
            fx.reference,
            fx.basis,
            fx.tolerance_pct.map(p).unwrap_or_else(|| "2% (default)".into())
        );
    }
    for (terr, v) in &t.withholding {
        let _ = writeln!(o, "Withholding allowed: {terr} up to {}", p(*v));
    }
    match c.audit() {
        Some(a) => {
            let _ = writeln!(
                o,
                "Audit: objection period {} months; cost shifting at {}; interest {}; lag window {} months",
                a.objection_period_months.map(|v| v.to_string()).unwrap_or_else(|| "(not given)".into()),
                a.cost_shift_threshold_pct.map(p).unwrap_or_else(|| "(not given)".into()),
                a.interest_rate_pct.map(p).unwrap_or_else(|| "(not given)".into()),
                a.lag_months.unwrap_or(crate::engine::DEFAULT_LAG_MONTHS),
            );
        }
        None => {
            let _ = writeln!(o, "Audit clause: (not given) — interest, time bars and cost shifting cannot be assessed");
        }
    }
    let gaps = crate::engine::unevaluable(c);
    if !gaps.is_empty() {
        let _ = writeln!(o, "Not checkable with these terms:");
        for (rule, why) in gaps {
            let _ = writeln!(o, "  {rule}: {why}");
        }
    }
    o
}
