//! Import results as a terminal table, as one JSON object, and as CSV files (ledger, rejects).

use std::collections::BTreeMap;
use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell as TCell, ContentArrangement, Table};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::import::cells::fmt_decimal;
use crate::import::{FileError, FileImport};
use crate::ledger::LedgerLine;

/// Money as an exact decimal string with at least 10 decimals.
pub fn money(d: Decimal) -> Value {
    Value::String(fmt_decimal(d, 10))
}

/// A quantity as a JSON number, exactly as the decimal reads.
pub fn quantity(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or_else(|_| Value::String(d.to_string()))
}

fn opt_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Bool)
}

pub fn file_json(f: &FileImport) -> Value {
    let totals: serde_json::Map<String, Value> = f
        .totals()
        .into_iter()
        .map(|(cur, t)| {
            (
                cur.code().to_string(),
                json!({
                    "lines": t.lines,
                    "units": quantity(t.units),
                    "gross": money(t.gross),
                    "net": money(t.net),
                    "royalty": money(t.royalty),
                    "amount": money(t.amount),
                }),
            )
        })
        .collect();
    let rejected: serde_json::Map<String, Value> = f
        .rejected_totals()
        .into_iter()
        .map(|(cur, fields)| {
            let m: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.clone(), if k == "units" { quantity(v) } else { money(v) }))
                .collect();
            (cur.code().to_string(), Value::Object(m))
        })
        .collect();
    let controls: Vec<Value> = f
        .controls
        .iter()
        .map(|c| {
            json!({
                "source": c.source.to_string(),
                "field": c.field,
                "currency": c.currency.map(|c| c.code()),
                "stated": c.stated.to_string(),
                "computed": c.computed.map(|d| d.to_string()),
                "ok": opt_bool(c.ok),
                "note": c.note,
            })
        })
        .collect();
    json!({
        "file": f.file,
        "profile": f.profile,
        "format": f.format,
        "encoding": f.encoding,
        "delimiter": f.delimiter,
        "rows_read": f.rows_read,
        "rows_imported": f.rows_imported(),
        "rows_rejected": f.rejects.len(),
        "rows_nondata": f.nondata.len(),
        "rows_balance": f.rows_balance(),
        "totals": totals,
        "rejected_totals": rejected,
        "control_totals_ok": opt_bool(f.control_totals_ok()),
        "control_totals": controls,
        "nondata": f.nondata_reasons(),
        "hidden_sheets": f.hidden_sheets,
        "notes": f.notes,
    })
}

pub fn import_json(files: &[FileImport], errors: &[FileError]) -> Value {
    let rejects: Vec<Value> = files
        .iter()
        .flat_map(|f| &f.rejects)
        .map(|r| {
            json!({
                "file": r.source.file,
                "sheet": r.source.sheet,
                "row": r.source.row,
                "column": r.source.column,
                "reason": r.reason,
            })
        })
        .collect();
    let errors: Vec<Value> = errors.iter().map(|e| json!({"file": e.file, "error": e.message})).collect();
    json!({
        "files": files.iter().map(file_json).collect::<Vec<_>>(),
        "rejects": rejects,
        "errors": errors,
    })
}

fn totals_text(f: &FileImport) -> String {
    let mut parts = Vec::new();
    for (cur, t) in f.totals() {
        let mut s = format!("{cur}");
        for (label, v) in [("net", t.net), ("royalty", t.royalty), ("amount", t.amount)] {
            if !v.is_zero() {
                s.push_str(&format!(" {label} {}", v.normalize()));
            }
        }
        s.push_str(&format!(" units {}", t.units.normalize()));
        parts.push(s);
    }
    if parts.is_empty() { "-".into() } else { parts.join("\n") }
}

fn control_text(f: &FileImport) -> String {
    match f.control_totals_ok() {
        None if f.controls.is_empty() => "no totals in file".into(),
        None => "not checkable".into(),
        Some(true) => format!("ok ({} checked)", f.controls.len()),
        Some(false) => {
            let bad: Vec<String> = f
                .controls
                .iter()
                .filter(|c| c.ok == Some(false))
                .map(|c| {
                    format!(
                        "{} {}: stated {} read {}",
                        c.source,
                        c.field,
                        c.stated,
                        c.computed.map(|d| d.normalize().to_string()).unwrap_or_default()
                    )
                })
                .collect();
            format!("MISMATCH\n{}", bad.join("\n"))
        }
    }
}

/// The human summary: one table row per file, then notes and rejects.
pub fn write_import_table(out: &mut dyn Write, files: &[FileImport], errors: &[FileError], max_rejects: usize) -> std::io::Result<()> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(vec!["File", "Profile", "Read", "Imported", "Rejected", "Non-data", "Totals", "Control totals"]);
    for f in files {
        table.add_row(vec![
            TCell::new(&f.file),
            TCell::new(&f.profile),
            TCell::new(f.rows_read),
            TCell::new(f.rows_imported()),
            TCell::new(f.rejects.len()),
            TCell::new(f.nondata.len()),
            TCell::new(totals_text(f)),
            TCell::new(control_text(f)),
        ]);
    }
    writeln!(out, "{table}")?;
    let mut grand: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for f in files {
        for (cur, t) in f.totals() {
            let e = grand.entry(cur.code().to_string()).or_default();
            e.0 += t.net + t.royalty;
            e.1 += t.units;
        }
    }
    let read: u64 = files.iter().map(|f| f.rows_read).sum();
    let imported: u64 = files.iter().map(|f| f.rows_imported()).sum();
    let rejected: usize = files.iter().map(|f| f.rejects.len()).sum();
    let nondata: usize = files.iter().map(|f| f.nondata.len()).sum();
    let balanced = files.iter().all(FileImport::rows_balance);
    writeln!(
        out,
        "{} file(s): {read} rows read = {imported} imported + {rejected} rejected + {nondata} non-data{}",
        files.len(),
        if balanced { "" } else { "  (DOES NOT BALANCE)" }
    )?;
    for f in files {
        for note in &f.notes {
            writeln!(out, "note: {}: {note}", f.file)?;
        }
    }
    let rejects: Vec<_> = files.iter().flat_map(|f| &f.rejects).collect();
    if !rejects.is_empty() {
        writeln!(out, "rejected rows:")?;
        for r in rejects.iter().take(max_rejects) {
            writeln!(out, "  {}: {}", r.source, r.reason)?;
        }
        if rejects.len() > max_rejects {
            writeln!(out, "  … and {} more (write them all with --rejects FILE)", rejects.len() - max_rejects)?;
        }
    }
    for e in errors {
        writeln!(out, "error: {e}")?;
    }
    Ok(())
}

pub const LEDGER_COLUMNS: &[&str] = &[
    "file", "sheet", "row", "profile", "statement_kind", "line_kind", "account", "payee", "sale_period",
    "accounting_period", "reporting_date", "store", "offering", "territory", "isrc", "upc", "iswc", "title",
    "release_title", "artist", "income_type", "sale_type", "channel", "price_category", "units", "free_units", "container_pct", "unit_price", "gross", "fees", "taxes",
    "net", "split_pct", "royalty_rate", "royalty", "amount", "currency", "original_amount",
    "original_currency", "fx_rate", "charge_kind", "reference", "description", "flags",
];

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

pub fn ledger_record(l: &LedgerLine) -> Vec<String> {
    let s = |o: Option<&str>| o.unwrap_or_default().to_string();
    let d = |o: &Option<Decimal>| o.map(|v| v.to_string()).unwrap_or_default();
    let flags: Vec<String> = l
        .flags
        .iter()
        .map(|f| match serde_json::to_value(f) {
            Ok(Value::Object(m)) => match (m.get("flag"), m.get("value")) {
                (Some(Value::String(k)), Some(Value::String(v))) => format!("{k}={v}"),
                (Some(Value::String(k)), _) => k.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        })
        .collect();
    vec![
        l.source.file.to_string(),
        l.source.sheet.map(|s| s.to_string()).unwrap_or_default(),
        l.source.row.to_string(),
        l.profile.to_string(),
        enum_name(&l.statement_kind),
        enum_name(&l.line_kind),
        s(l.account.as_deref()),
        s(l.payee.as_deref()),
        l.sale_period.map(|p| p.to_string()).unwrap_or_default(),
        l.accounting_period.map(|p| p.to_string()).unwrap_or_default(),
        l.reporting_date.map(|p| p.to_string()).unwrap_or_default(),
        s(l.store.as_deref()),
        s(l.offering.as_deref()),
        l.territory.as_ref().map(|t| t.code().to_string()).unwrap_or_default(),
        s(l.isrc.as_deref()),
        s(l.upc.as_deref()),
        s(l.details().iswc.as_deref()),
        s(l.title.as_deref()),
        s(l.details().release_title.as_deref()),
        s(l.artist.as_deref()),
        l.income_type.as_ref().map(enum_name).unwrap_or_default(),
        s(l.sale_type.as_deref()),
        s(l.details().channel.as_deref()),
        s(l.details().price_category.as_deref()),
        d(&l.units),
        d(&l.details().free_units),
        d(&l.details().container_pct),
        d(&l.details().unit_price),
        d(&l.gross),
        d(&l.fees),
        d(&l.taxes),
        d(&l.net),
        d(&l.details().split_pct),
        d(&l.royalty_rate),
        d(&l.royalty),
        d(&l.amount),
        l.currency.code().to_string(),
        d(&l.details().original_amount),
        l.details().original_currency.map(|c| c.code().to_string()).unwrap_or_default(),
        d(&l.details().fx_rate),
        s(l.details().charge_kind.as_deref()),
        s(l.details().reference.as_deref()),
        s(l.details().description.as_deref()),
        flags.join(";"),
    ]
}

/// The ledger CSV (`import --out FILE.csv`), written line by line as files are read: one
/// row per line, in file, sheet and row order.
pub struct CsvLedgerSink<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> CsvLedgerSink<W> {
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(LEDGER_COLUMNS)?;
        Ok(CsvLedgerSink { writer })
    }
}

impl<W: Write + Send> crate::import::LineSink for CsvLedgerSink<W> {
    fn write(&mut self, lines: &[LedgerLine]) -> Result<(), String> {
        for l in lines {
            self.writer.write_record(ledger_record(l)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.writer.flush().map_err(|e| e.to_string())
    }
}

/// A sink that keeps nothing: `import` without `--out` only reports counts and totals.
pub struct DiscardLines;

impl crate::import::LineSink for DiscardLines {
    fn write(&mut self, _lines: &[LedgerLine]) -> Result<(), String> {
        Ok(())
    }
}

/// Write every rejected row with its place and reason.
pub fn write_rejects_csv(out: impl Write, files: &[FileImport]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["file", "sheet", "row", "column", "reason"])?;
    for f in files {
        for r in &f.rejects {
            w.write_record([
                &r.source.file,
                r.source.sheet.as_deref().unwrap_or(""),
                &r.source.row.to_string(),
                r.source.column.as_deref().unwrap_or(""),
                r.reason.as_str(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}
