//! Audit reports: terminal tables, JSON (schema `royalty-audit/audit/v1`, docs/audit-json.md),
//! CSV (one row per finding), Markdown, and `explain` for one finding. Tables and Markdown
//! round money to the currency's minor unit for display; JSON and CSV carry exact figures.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::engine::{Audit, Category, Finding, Severity};
use crate::import::FileImport;

pub const JSON_SCHEMA: &str = "royalty-audit/audit/v1";

/// Money for display: grouped thousands, two decimals (or the currency's minor units).
pub fn money(v: Decimal) -> String {
    let r = v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let s = format!("{:.2}", r.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}{grouped}.{frac}", if r.is_sign_negative() && !r.is_zero() { "-" } else { "" })
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Claim => "claim",
        Severity::Overstatement => "overstatement",
        Severity::Info => "info",
        Severity::NotChecked => "not checked",
    }
}

/// One line: underpaid by X = Y% of reported royalties; cost shifting met or not.
pub fn verdict(a: &Audit) -> String {
    let t = &a.totals;
    let pct = t.underpayment_pct.map(|p| format!(" = {}% of reported royalties", p.normalize())).unwrap_or_default();
    let shift = match (t.cost_shift_met, t.cost_shift_threshold_pct) {
        (Some(true), Some(th)) => format!("; cost-shifting threshold of {}% met: the label bears the audit costs", th.normalize()),
        (Some(false), Some(th)) => format!("; cost-shifting threshold of {}% not met", th.normalize()),
        _ => String::new(),
    };
    if t.principal.is_zero() && t.account_effect.is_zero() && t.royalty_effect.is_zero() {
        return format!("No underpayment found in {} statement line(s){shift}.", a.lines_audited);
    }
    format!(
        "Underpaid by {} {} in royalties{pct}; {} {} owed now plus {} interest; account understated by {}{shift}.",
        a.currency,
        money(t.royalty_effect),
        a.currency,
        money(t.principal),
        money(t.interest),
        money(t.account_effect)
    )
}

fn by_category(a: &Audit) -> BTreeMap<Category, (usize, Decimal, Decimal, Decimal, Decimal)> {
    let mut m: BTreeMap<Category, (usize, Decimal, Decimal, Decimal, Decimal)> = BTreeMap::new();
    for f in a.findings.iter().filter(|f| f.in_claim() && f.payee.is_none()) {
        let e = m.entry(f.category).or_default();
        e.0 += 1;
        e.1 += f.royalty_effect;
        e.2 += f.account_effect;
        e.3 += f.cash_effect;
        e.4 += f.interest;
    }
    m
}

fn right(t: &mut Table, cols: &[usize]) {
    for &c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

pub fn write_table(out: &mut dyn Write, a: &Audit, files: &[FileImport], top: usize) -> io::Result<()> {
    writeln!(out, "Audit of {} ({}) for {}; statements {}", a.contract, a.contract_file, a.payee, a.statement_periods.join(", "))?;
    let rows: u64 = files.iter().map(|f| f.rows_read).sum();
    let rejects: usize = files.iter().map(|f| f.rejects.len()).sum();
    writeln!(
        out,
        "Read {} file(s), {rows} rows ({rejects} rejected); {} statement line(s) audited against {} sales line(s).",
        files.len(),
        a.lines_audited,
        a.source_lines
    )?;
    if let Some(d) = a.claim_date {
        writeln!(out, "Claim date {d}.")?;
    }
    writeln!(out)?;
    let cats = by_category(a);
    if !cats.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Category", "Findings", "Royalty effect", "Account effect", "Cash now", "Interest"]);
        for (c, (nf, r, ac, cash, i)) in &cats {
            t.add_row(vec![c.title().to_string(), nf.to_string(), money(*r), money(*ac), money(*cash), money(*i)]);
        }
        let tt = &a.totals;
        t.add_row(vec![
            "Total".to_string(),
            cats.values().map(|v| v.0).sum::<usize>().to_string(),
            money(tt.royalty_effect),
            money(tt.account_effect),
            money(tt.principal),
            money(tt.interest),
        ]);
        right(&mut t, &[1, 2, 3, 4, 5]);
        writeln!(out, "Claim by category ({}):\n{t}", a.currency)?;
    }
    let mut cash_by_period: BTreeMap<String, Decimal> = BTreeMap::new();
    for f in a.findings.iter().filter(|f| f.in_claim() && f.payee.is_none()) {
        *cash_by_period.entry(f.period.map(|p| p.to_string()).unwrap_or_else(|| "-".into())).or_default() += f.cash_effect;
    }
    if !a.periods.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Period", "Royalties reported", "Recomputed", "Difference", "Cash effect", "Balance stated", "Balance corrected"]);
        for p in &a.periods {
            t.add_row(vec![
                p.period.clone(),
                money(p.reported_royalties),
                money(p.recomputed_royalties),
                money(p.recomputed_royalties - p.reported_royalties),
                money(cash_by_period.get(&p.period).copied().unwrap_or_default()),
                p.closing_stated.map(money).unwrap_or_default(),
                p.closing_corrected.map(money).unwrap_or_default(),
            ]);
        }
        right(&mut t, &[1, 2, 3, 4, 5, 6]);
        writeln!(out, "By period (the recoupment balance as stated and as corrected by the findings):\n{t}")?;
    }
    let mut claims: Vec<&Finding> = a.findings.iter().filter(|f| f.severity == Severity::Claim).collect();
    claims.sort_by(|x, y| (y.royalty_effect.max(y.account_effect).max(y.cash_effect)).cmp(&x.royalty_effect.max(x.account_effect).max(x.cash_effect)).then(x.id.cmp(&y.id)));
    if !claims.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Id", "Finding", "Period", "Royalty", "Account", "Cash", "Note"]);
        for f in claims.iter().take(top) {
            let note = match (&f.payee, f.time_barred) {
                (Some(p), _) => format!("owed to {p}"),
                (None, true) => "time-barred".into(),
                _ => String::new(),
            };
            t.add_row(vec![
                f.id.clone(),
                f.title.clone(),
                f.period.map(|p| p.to_string()).unwrap_or_default(),
                money(f.royalty_effect),
                money(f.account_effect),
                money(f.cash_effect),
                note,
            ]);
        }
        right(&mut t, &[3, 4, 5]);
        writeln!(out, "Largest findings ({} of {}; `explain ID` shows the working):\n{t}", claims.len().min(top), claims.len())?;
    }
    if !a.accounts.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Account", "Period", "Opening", "Credits", "Charges", "Reserves", "Payments", "Closing stated", "Closing recomputed"]);
        for pa in &a.accounts {
            t.add_row(vec![
                pa.account.clone(),
                pa.period.map(|p| p.to_string()).unwrap_or_default(),
                pa.opening.map(money).unwrap_or_default(),
                money(pa.credits),
                money(pa.charges),
                money(pa.reserves_withheld + pa.reserves_released),
                money(pa.payments),
                pa.closing_reported.map(money).unwrap_or_default(),
                money(pa.closing_computed),
            ]);
        }
        right(&mut t, &[2, 3, 4, 5, 6, 7, 8]);
        writeln!(out, "Account as stated:\n{t}")?;
    }
    let others: Vec<&Finding> = a.findings.iter().filter(|f| f.severity != Severity::Claim).collect();
    if !others.is_empty() {
        writeln!(out, "Also noted:")?;
        for f in others {
            writeln!(out, "  {} [{}] {}: {}", f.id, severity_name(f.severity), f.title, f.explanation)?;
        }
    }
    for (p, v) in &a.totals.third_party {
        writeln!(out, "Owed to {p} (not in the payee's claim): {} {}", a.currency, money(*v))?;
    }
    if a.totals.time_barred > Decimal::ZERO {
        writeln!(out, "Time-barred (kept out of the claim): {} {}", a.currency, money(a.totals.time_barred))?;
    }
    writeln!(out, "\n{}", verdict(a))
}

/// The JSON report. Serialised straight to the output (a large audit's findings carry
/// hundreds of thousands of evidence rows; no document tree is built in memory first). What
/// it says of the imported files is worked out when it is made ([`json_report`]): the
/// files' lines are not needed to write it.
#[derive(serde::Serialize)]
pub struct JsonReport<'a> {
    schema: &'a str,
    contract: &'a str,
    contract_file: &'a str,
    payee: &'a str,
    currency: &'a str,
    claim_date: Option<chrono::NaiveDate>,
    statement_periods: &'a [String],
    import: Vec<JsonImport>,
    lines_audited: usize,
    source_lines: usize,
    verdict: String,
    totals: &'a crate::engine::Totals,
    accounts: &'a [crate::engine::account::PeriodAccount],
    findings: &'a [Finding],
}

#[derive(serde::Serialize)]
struct JsonImport {
    file: String,
    profile: String,
    rows_read: u64,
    rows_imported: u64,
    rows_rejected: usize,
    rows_nondata: usize,
    control_totals_ok: Option<bool>,
}

/// The JSON report of an audit of `files` (schema [`JSON_SCHEMA`]).
pub fn json_report<'a>(a: &'a Audit, files: &[FileImport]) -> JsonReport<'a> {
    JsonReport {
        schema: JSON_SCHEMA,
        contract: &a.contract,
        contract_file: &a.contract_file,
        payee: &a.payee,
        currency: &a.currency,
        claim_date: a.claim_date,
        statement_periods: &a.statement_periods,
        import: files
            .iter()
            .map(|f| JsonImport {
                file: f.file.clone(),
                profile: f.profile.clone(),
                rows_read: f.rows_read,
                rows_imported: f.rows_imported(),
                rows_rejected: f.rejects.len(),
                rows_nondata: f.nondata.len(),
                control_totals_ok: f.control_totals_ok(),
            })
            .collect(),
        lines_audited: a.lines_audited,
        source_lines: a.source_lines,
        verdict: verdict(a),
        totals: &a.totals,
        accounts: &a.accounts,
        findings: &a.findings,
    }
}

/// Write a JSON report made by [`json_report`] (pretty-printed, with a final newline).
pub fn write_json_report(out: impl Write, report: &JsonReport<'_>) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut out, report).map_err(io::Error::other)?;
    writeln!(out)?;
    out.flush()
}

pub const CSV_COLUMNS: &[&str] = &[
    "id", "rule", "category", "severity", "title", "period", "payee", "keys", "currency", "expected", "reported",
    "difference", "royalty_effect", "account_effect", "cash_effect", "due_date", "interest", "time_barred", "clause",
    "evidence", "explanation",
];

pub fn write_csv(out: impl Write, a: &Audit) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    let d = |v: Option<Decimal>| v.map(|x| x.to_string()).unwrap_or_default();
    for f in &a.findings {
        let keys: Vec<String> = f.keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let evidence: Vec<String> = f.evidence.iter().map(|s| s.to_string()).collect();
        w.write_record([
            f.id.clone(),
            f.rule.code(),
            serde_json::to_value(f.category).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            severity_name(f.severity).to_string(),
            f.title.clone(),
            f.period.map(|p| p.to_string()).unwrap_or_default(),
            f.payee.clone().unwrap_or_default(),
            keys.join("; "),
            f.currency.clone(),
            d(f.expected),
            d(f.reported),
            d(f.difference),
            f.royalty_effect.to_string(),
            f.account_effect.to_string(),
            f.cash_effect.to_string(),
            f.due_date.map(|x| x.to_string()).unwrap_or_default(),
            f.interest.to_string(),
            f.time_barred.to_string(),
            f.clause.clone(),
            evidence.join("; "),
            f.explanation.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn write_markdown(out: &mut dyn Write, a: &Audit) -> io::Result<()> {
    writeln!(out, "# Royalty audit: {} — {}\n", a.payee, a.contract)?;
    writeln!(out, "- Contract: `{}`", a.contract_file)?;
    writeln!(out, "- Statements: {}", a.statement_periods.join(", "))?;
    if let Some(d) = a.claim_date {
        writeln!(out, "- Claim date: {d}")?;
    }
    writeln!(out, "- Lines audited: {} (against {} sales lines)\n", a.lines_audited, a.source_lines)?;
    writeln!(out, "**{}**\n", verdict(a))?;
    let cats = by_category(a);
    if !cats.is_empty() {
        writeln!(out, "## Claim by category ({})\n", a.currency)?;
        writeln!(out, "| Category | Findings | Royalty effect | Account effect | Cash now | Interest |")?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
        for (c, (n, r, ac, cash, i)) in &cats {
            writeln!(out, "| {} | {n} | {} | {} | {} | {} |", c.title(), money(*r), money(*ac), money(*cash), money(*i))?;
        }
        let t = &a.totals;
        writeln!(out, "| **Total** | | **{}** | **{}** | **{}** | **{}** |\n", money(t.royalty_effect), money(t.account_effect), money(t.principal), money(t.interest))?;
    }
    if !a.periods.is_empty() {
        writeln!(out, "## By period ({})\n", a.currency)?;
        writeln!(out, "| Period | Royalties reported | Recomputed | Closing balance stated | Corrected |")?;
        writeln!(out, "|---|---:|---:|---:|---:|")?;
        for p in &a.periods {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                p.period,
                money(p.reported_royalties),
                money(p.recomputed_royalties),
                p.closing_stated.map(money).unwrap_or_default(),
                p.closing_corrected.map(money).unwrap_or_default()
            )?;
        }
        writeln!(out)?;
        let charts: Vec<String> = [super::charts::royalties_by_period(a), super::charts::balance_over_time(a)].into_iter().flatten().collect();
        for svg in charts {
            // Raw HTML block: Markdown viewers that allow HTML show the chart inline.
            writeln!(out, "<div>\n{}\n</div>\n", svg.trim())?;
        }
    }
    writeln!(out, "## Schedule of findings\n")?;
    writeln!(out, "| # | Id | Finding | Period | Royalty | Account | Cash | Clause | Explanation |")?;
    writeln!(out, "|---:|---|---|---|---:|---:|---:|---|---|")?;
    for (i, f) in a.findings.iter().filter(|f| f.severity == Severity::Claim).enumerate() {
        let title = match (&f.payee, f.time_barred) {
            (Some(p), _) => format!("{} (owed to {p})", f.title),
            (None, true) => format!("{} (time-barred)", f.title),
            _ => f.title.clone(),
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            f.id,
            md_escape(&title),
            f.period.map(|p| p.to_string()).unwrap_or_default(),
            money(f.royalty_effect),
            money(f.account_effect),
            money(f.cash_effect),
            md_escape(&f.clause),
            md_escape(&f.explanation)
        )?;
    }
    let others: Vec<&Finding> = a.findings.iter().filter(|f| f.severity != Severity::Claim).collect();
    if !others.is_empty() {
        writeln!(out, "\n## Also noted\n")?;
        for f in others {
            writeln!(out, "- `{}` *{}* — {}: {}", f.id, severity_name(f.severity), md_escape(&f.title), md_escape(&f.explanation))?;
        }
    }
    Ok(())
}

/// The full working of one finding.
pub fn explain(out: &mut dyn Write, f: &Finding) -> io::Result<()> {
    writeln!(out, "{} — {} (rule {}, {})", f.id, f.title, f.rule.code(), f.category.title())?;
    writeln!(out, "{}", f.explanation)?;
    for (k, v) in &f.keys {
        writeln!(out, "  {k}: {v}")?;
    }
    if let Some(p) = f.period {
        writeln!(out, "  period: {p}")?;
    }
    let d = |v: Option<Decimal>| v.map(|x| x.normalize().to_string()).unwrap_or_else(|| "-".into());
    writeln!(out, "figures ({}): expected {} · reported {} · difference {}", f.currency, d(f.expected), d(f.reported), d(f.difference))?;
    writeln!(
        out,
        "effects: royalty {} · account {} · cash {} · interest {}{}{}",
        f.royalty_effect.normalize(),
        f.account_effect.normalize(),
        f.cash_effect.normalize(),
        f.interest.normalize(),
        f.due_date.map(|d| format!(" (due {d})")).unwrap_or_default(),
        if f.time_barred { " · time-barred" } else { "" }
    )?;
    if !f.clause.is_empty() {
        writeln!(out, "clause: {}", f.clause)?;
    }
    if !f.trail.is_empty() {
        writeln!(out, "working:")?;
        for t in &f.trail {
            writeln!(out, "  {t}")?;
        }
    }
    if !f.evidence.is_empty() {
        writeln!(out, "evidence:")?;
        for e in &f.evidence {
            writeln!(out, "  {e}")?;
        }
    }
    Ok(())
}

/// A self-contained HTML page of the Markdown report (charts inline).
pub fn write_html(out: &mut dyn Write, a: &Audit) -> io::Result<()> {
    let mut md = Vec::new();
    write_markdown(&mut md, a)?;
    let md = String::from_utf8_lossy(&md);
    let mut body = String::new();
    let parser = pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::ENABLE_TABLES);
    pulldown_cmark::html::push_html(&mut body, parser);
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Royalty audit: {} — {}</title>\n<style>\nbody {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}\ntable {{ border-collapse: collapse; margin: 1em 0; }}\nth, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}\ntd:nth-child(n+2) {{ font-variant-numeric: tabular-nums; }}\n</style>\n</head>\n<body>\n{}</body>\n</html>",
        html_escape(&a.payee),
        html_escape(&a.contract),
        body
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_display() {
        assert_eq!(money(Decimal::new(123456789, 3)), "123,456.79");
        assert_eq!(money(Decimal::new(-5, 3)), "-0.01");
        assert_eq!(money(Decimal::new(-4, 3)), "0.00");
        assert_eq!(money(Decimal::from(1000)), "1,000.00");
    }
}
