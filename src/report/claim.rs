//! The claim schedule an accountant hands to the label (`audit --claim claim.xlsx`): a
//! summary sheet (totals by category, principal, interest, claim, underpayment %, cost
//! shifting) and one sheet per category with every finding, its figures, due date, interest
//! to the claim date, clause and evidence.
//!
//! Workbook cells hold numbers as IEEE doubles: money is rounded to the currency's minor
//! unit (half away from zero) at this boundary and nowhere else; the JSON and CSV outputs
//! keep the exact figures.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::audit::verdict;
use crate::engine::{Audit, Category, Finding, Severity};

fn cents(v: Decimal) -> f64 {
    v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero).to_f64().unwrap_or(0.0)
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

/// Sheet names: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(c: Category) -> String {
    let t: String = c.title().chars().filter(|ch| !"[]:*?/\\".contains(*ch)).collect();
    t.chars().take(31).collect()
}

struct Styles {
    bold: Format,
    money: Format,
    money_bold: Format,
    date: Format,
    wrap: Format,
    pct: Format,
}

fn styles() -> Styles {
    Styles {
        bold: Format::new().set_bold(),
        money: Format::new().set_num_format("#,##0.00"),
        money_bold: Format::new().set_num_format("#,##0.00").set_bold(),
        date: Format::new().set_num_format("yyyy-mm-dd").set_align(FormatAlign::Left),
        wrap: Format::new().set_text_wrap(),
        pct: Format::new().set_num_format("0.00\"%\""),
    }
}

fn status(f: &Finding) -> String {
    match (&f.payee, f.time_barred) {
        (Some(p), _) => format!("owed to {p} (not in this claim)"),
        (None, true) => "time-barred (not in this claim)".into(),
        _ => "claimed".into(),
    }
}

pub fn write_claim(path: &Path, a: &Audit) -> Result<(), String> {
    build(a).and_then(|mut wb| wb.save(path)).map_err(|e| format!("{}: {e}", path.display()))
}

fn build(a: &Audit) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    // Fixed document date so that the same audit gives the same bytes.
    let stamp = excel_date(a.claim_date.unwrap_or(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()))?;
    wb.set_properties(&DocProperties::new().set_title("Royalty audit claim").set_creation_datetime(&stamp));
    let s = styles();
    let mut by_cat: BTreeMap<Category, Vec<&Finding>> = BTreeMap::new();
    for f in a.findings.iter().filter(|f| f.severity == Severity::Claim) {
        by_cat.entry(f.category).or_default().push(f);
    }
    summary(wb.add_worksheet().set_name("Summary")?, a, &by_cat, &s)?;
    for (cat, findings) in &by_cat {
        category_sheet(wb.add_worksheet().set_name(sheet_name(*cat))?, a, findings, &s)?;
    }
    Ok(wb)
}

fn summary(ws: &mut Worksheet, a: &Audit, by_cat: &BTreeMap<Category, Vec<&Finding>>, s: &Styles) -> Result<(), XlsxError> {
    let t = &a.totals;
    ws.write_with_format(0, 0, "Royalty audit claim", &s.bold)?;
    let info: [(&str, String); 5] = [
        ("Payee", a.payee.clone()),
        ("Contract", format!("{} ({})", a.contract, a.contract_file)),
        ("Statements audited", a.statement_periods.join(", ")),
        ("Currency", a.currency.clone()),
        ("Verdict", verdict(a)),
    ];
    for (i, (k, v)) in info.iter().enumerate() {
        ws.write_with_format(2 + i as u32, 0, *k, &s.bold)?;
        ws.write(2 + i as u32, 1, v.as_str())?;
    }
    ws.write_with_format(7, 0, "Claim date", &s.bold)?;
    match a.claim_date {
        Some(d) => ws.write_datetime_with_format(7, 1, excel_date(d)?, &s.date)?,
        None => ws.write(7, 1, "(not given: no interest computed)")?,
    };
    let header = ["Category", "Findings", "Royalty effect", "Account effect", "Principal (cash)", "Interest", "Total"];
    for (c, h) in header.iter().enumerate() {
        ws.write_with_format(9, c as u16, *h, &s.bold)?;
    }
    let mut r = 10u32;
    for (cat, findings) in by_cat {
        let claimed: Vec<&&Finding> = findings.iter().filter(|f| f.in_claim() && f.payee.is_none()).collect();
        if claimed.is_empty() {
            continue;
        }
        let sum = |g: &dyn Fn(&Finding) -> Decimal| claimed.iter().map(|f| g(f)).sum::<Decimal>();
        let (roy, acc, cash, int) = (sum(&|f| f.royalty_effect), sum(&|f| f.account_effect), sum(&|f| f.cash_effect), sum(&|f| f.interest));
        ws.write(r, 0, cat.title())?;
        ws.write(r, 1, claimed.len() as u32)?;
        for (c, v) in [(2u16, roy), (3, acc), (4, cash), (5, int), (6, cash + int)] {
            ws.write_with_format(r, c, cents(v), &s.money)?;
        }
        r += 1;
    }
    ws.write_with_format(r, 0, "Total", &s.bold)?;
    for (c, v) in [(2u16, t.royalty_effect), (3, t.account_effect), (4, t.principal), (5, t.interest), (6, t.claim)] {
        ws.write_with_format(r, c, cents(v), &s.money_bold)?;
    }
    r += 2;
    let rate = a.interest_rate_pct.map(|p| format!("Interest ({}% simple, to the claim date)", p.normalize())).unwrap_or_else(|| "Interest".into());
    let lines: Vec<(String, Decimal)> = vec![
        ("Principal".into(), t.principal),
        (rate, t.interest),
        ("Claim total".into(), t.claim),
        ("Royalties reported for the audited periods".into(), t.reported_royalties),
    ];
    for (k, v) in lines {
        ws.write_with_format(r, 0, k.as_str(), &s.bold)?;
        ws.write_with_format(r, 1, cents(v), if k == "Claim total" { &s.money_bold } else { &s.money })?;
        r += 1;
    }
    if let Some(u) = t.underpayment_pct {
        ws.write_with_format(r, 0, "Underpayment", &s.bold)?;
        ws.write_with_format(r, 1, u.to_f64().unwrap_or(0.0), &s.pct)?;
        r += 1;
    }
    if let (Some(th), Some(met)) = (t.cost_shift_threshold_pct, t.cost_shift_met) {
        ws.write_with_format(r, 0, "Audit costs", &s.bold)?;
        ws.write(
            r,
            1,
            if met {
                format!("reimbursable by the label: underpayment at or above the {}% threshold", th.normalize())
            } else {
                format!("not shifted: underpayment below the {}% threshold", th.normalize())
            },
        )?;
        r += 1;
    }
    for (p, v) in &t.third_party {
        ws.write_with_format(r, 0, format!("Owed to {p} (separate claim)"), &s.bold)?;
        ws.write_with_format(r, 1, cents(*v), &s.money)?;
        r += 1;
    }
    for (k, v) in [("Time-barred (excluded)", t.time_barred), ("Overstatements in the payee's favour (excluded)", t.overstatements)] {
        if !v.is_zero() {
            ws.write_with_format(r, 0, k, &s.bold)?;
            ws.write_with_format(r, 1, cents(v), &s.money)?;
            r += 1;
        }
    }
    ws.set_column_width(0, 44)?;
    ws.set_column_width(1, 18)?;
    for c in 2..7 {
        ws.set_column_width(c, 16)?;
    }
    Ok(())
}

const COLUMNS: [&str; 17] = [
    "Id", "Rule", "Finding", "Period", "Status", "Expected", "Reported", "Difference", "Royalty effect", "Account effect",
    "Cash effect", "Due date", "Days to claim date", "Interest", "Clause", "Evidence", "Explanation",
];

fn category_sheet(ws: &mut Worksheet, a: &Audit, findings: &[&Finding], s: &Styles) -> Result<(), XlsxError> {
    for (c, h) in COLUMNS.iter().enumerate() {
        ws.write_with_format(0, c as u16, *h, &s.bold)?;
    }
    let mut r = 1u32;
    let (mut roy, mut acc, mut cash, mut int) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for f in findings {
        ws.write(r, 0, f.id.as_str())?;
        ws.write(r, 1, f.rule.code())?;
        ws.write(r, 2, f.title.as_str())?;
        ws.write(r, 3, f.period.map(|p| p.to_string()).unwrap_or_default())?;
        ws.write(r, 4, status(f))?;
        for (c, v) in [(5u16, f.expected), (6, f.reported), (7, f.difference)] {
            if let Some(v) = v {
                ws.write_with_format(r, c, cents(v), &s.money)?;
            }
        }
        for (c, v) in [(8u16, f.royalty_effect), (9, f.account_effect), (10, f.cash_effect), (13, f.interest)] {
            ws.write_with_format(r, c, cents(v), &s.money)?;
        }
        if let Some(due) = f.due_date {
            ws.write_datetime_with_format(r, 11, excel_date(due)?, &s.date)?;
            if let Some(claim) = a.claim_date {
                ws.write(r, 12, (claim - due).num_days().max(0) as f64)?;
            }
        }
        ws.write(r, 14, f.clause.as_str())?;
        let evidence: Vec<String> = f.evidence.iter().map(|e| e.to_string()).collect();
        ws.write_with_format(r, 15, evidence.join("\n"), &s.wrap)?;
        ws.write_with_format(r, 16, f.explanation.as_str(), &s.wrap)?;
        if f.in_claim() && f.payee.is_none() {
            roy += f.royalty_effect;
            acc += f.account_effect;
            cash += f.cash_effect;
            int += f.interest;
        }
        r += 1;
    }
    ws.write_with_format(r, 2, "Total claimed", &s.bold)?;
    for (c, v) in [(8u16, roy), (9, acc), (10, cash), (13, int)] {
        ws.write_with_format(r, c, cents(v), &s.money_bold)?;
    }
    for (c, w) in [(0u16, 14.0), (2, 34.0), (4, 22.0), (14, 40.0), (15, 48.0), (16, 70.0)] {
        ws.set_column_width(c, w)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}
