//! The ledger as Parquet, partitioned by period (`import --out DIR.parquet`).
//!
//! Layout (Hive-style, read by DuckDB `read_parquet('DIR/*/*.parquet', hive_partitioning =
//! true)` and polars `scan_parquet(..., hive_partitioning=True)`):
//!
//! ```text
//! DIR.parquet/period=2024-03/part-0.parquet
//! DIR.parquet/period=2024-H1/part-0.parquet
//! DIR.parquet/period=none/part-0.parquet      (lines with neither period)
//! ```
//!
//! The period of a line is its accounting period, else its sale period (as the audit
//! reads it). Columns are those of the CSV ledger, in the same order and with the same text
//! (`report::import_summary::ledger_record`), typed where a type says more: `row` INT64,
//! `reporting_date` DATE, and every money or quantity column an exact
//! DECIMAL(38, s) (16-byte two's complement) whose scale `s` is the largest any value of
//! that column has, the same in every partition. A column holding a value that cannot be
//! written exactly at that scale within 38 digits is written as text instead, and the
//! summary says so. Empty values are nulls. Snappy compression; row groups of at most
//! 65,536 lines.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rust_decimal::Decimal;

use super::import_summary::{LEDGER_COLUMNS, ledger_record};
use crate::import::FileImport;
use crate::ledger::LedgerLine;

/// Money and quantity columns (written as decimals when they fit).
const MONEY: &[&str] = &[
    "units", "free_units", "container_pct", "unit_price", "gross", "fees", "taxes", "net", "split_pct", "royalty_rate", "royalty", "amount",
    "original_amount", "fx_rate",
];
const ROW_GROUP: usize = 65_536;

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Int,
    Date,
    /// DECIMAL(38, scale).
    Decimal(u32),
}

/// What was written.
#[derive(Debug, Default)]
pub struct ParquetSummary {
    /// (partition directory name, lines) in period order.
    pub partitions: Vec<(String, usize)>,
    /// Money columns written as text because a value did not fit DECIMAL(38, s).
    pub text_money_columns: Vec<String>,
}

fn partition_of(l: &LedgerLine) -> String {
    let p = l.accounting_period.or(l.sale_period).map(|p| p.to_string()).unwrap_or_else(|| "none".into());
    // A path component: keep it to what a period's text holds.
    let safe: String = p.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("period={safe}")
}

/// The mantissa of `v` at `scale` (≥ its own), if it fits 38 decimal digits.
fn at_scale(v: Decimal, scale: u32) -> Option<i128> {
    let up = scale.checked_sub(v.scale())?;
    let m = v.mantissa().checked_mul(10i128.checked_pow(up)?)?;
    (m.unsigned_abs() < 10u128.pow(38)).then_some(m)
}

fn kinds(lines: &[&LedgerLine]) -> (Vec<Kind>, Vec<String>) {
    let mut kinds: Vec<Kind> = LEDGER_COLUMNS
        .iter()
        .map(|c| match *c {
            "row" => Kind::Int,
            "reporting_date" => Kind::Date,
            c if MONEY.contains(&c) => Kind::Decimal(0),
            _ => Kind::Text,
        })
        .collect();
    let money_at: Vec<usize> = (0..LEDGER_COLUMNS.len()).filter(|&i| matches!(kinds[i], Kind::Decimal(_))).collect();
    let mut values: Vec<Vec<Decimal>> = vec![Vec::new(); LEDGER_COLUMNS.len()];
    for l in lines {
        let record = ledger_record(l);
        for &i in &money_at {
            if let Ok(v) = Decimal::from_str(&record[i]) {
                values[i].push(v);
            }
        }
    }
    let mut as_text = Vec::new();
    for &i in &money_at {
        let scale = values[i].iter().map(|v| v.scale()).max().unwrap_or(0);
        if values[i].iter().all(|v| at_scale(*v, scale).is_some()) {
            kinds[i] = Kind::Decimal(scale);
        } else {
            kinds[i] = Kind::Text;
            as_text.push(LEDGER_COLUMNS[i].to_string());
        }
    }
    (kinds, as_text)
}

fn schema(kinds: &[Kind]) -> String {
    let mut s = String::from("message ledger {\n");
    for (name, kind) in LEDGER_COLUMNS.iter().zip(kinds) {
        let field = match kind {
            Kind::Text => format!("  OPTIONAL BYTE_ARRAY {name} (UTF8);\n"),
            Kind::Int => format!("  REQUIRED INT64 {name};\n"),
            Kind::Date => format!("  OPTIONAL INT32 {name} (DATE);\n"),
            Kind::Decimal(scale) => format!("  OPTIONAL FIXED_LEN_BYTE_ARRAY (16) {name} (DECIMAL(38, {scale}));\n"),
        };
        s.push_str(&field);
    }
    s.push('}');
    s
}

/// Write the ledger of `files` under `dir` (created; it must not exist or be empty).
pub fn write_ledger_parquet(dir: &Path, files: &[FileImport]) -> Result<ParquetSummary, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", dir.display());
    if dir.exists() && std::fs::read_dir(dir).map_err(|e| err(&e))?.next().is_some() {
        return Err(err(&"already exists and is not empty (the ledger is written as a directory of partitions)"));
    }
    let lines: Vec<&LedgerLine> = files.iter().flat_map(|f| f.lines.iter()).collect();
    let (kinds, text_money_columns) = kinds(&lines);
    let schema = Arc::new(parse_message_type(&schema(&kinds)).map_err(|e| err(&e))?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).set_created_by("royalty-audit".into()).build());
    let mut partitions: BTreeMap<String, Vec<&LedgerLine>> = BTreeMap::new();
    for l in &lines {
        partitions.entry(partition_of(l)).or_default().push(l);
    }
    let mut summary = ParquetSummary { text_money_columns, ..Default::default() };
    for (name, part) in &partitions {
        let path = dir.join(name).join("part-0.parquet");
        let perr = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        std::fs::create_dir_all(dir.join(name)).map_err(|e| perr(&e))?;
        let file = std::fs::File::create(&path).map_err(|e| perr(&e))?;
        let mut writer = SerializedFileWriter::new(std::io::BufWriter::new(file), schema.clone(), props.clone()).map_err(|e| perr(&e))?;
        for group in part.chunks(ROW_GROUP) {
            let records: Vec<Vec<String>> = group.iter().map(|l| ledger_record(l)).collect();
            let mut rg = writer.next_row_group().map_err(|e| perr(&e))?;
            for (i, kind) in kinds.iter().enumerate() {
                let Some(mut col) = rg.next_column().map_err(|e| perr(&e))? else {
                    return Err(perr(&"schema has fewer columns than the ledger"));
                };
                let cells = records.iter().map(|r| r[i].as_str());
                let defs: Vec<i16> = cells.clone().map(|c| i16::from(!c.is_empty())).collect();
                let present = cells.filter(|c| !c.is_empty());
                match kind {
                    Kind::Text => {
                        let v: Vec<ByteArray> = present.map(|c| ByteArray::from(c.as_bytes().to_vec())).collect();
                        col.typed::<ByteArrayType>().write_batch(&v, Some(&defs), None).map_err(|e| perr(&e))?;
                    }
                    Kind::Int => {
                        let v: Vec<i64> = records.iter().map(|r| r[i].parse::<i64>().unwrap_or_default()).collect();
                        col.typed::<Int64Type>().write_batch(&v, None, None).map_err(|e| perr(&e))?;
                    }
                    Kind::Date => {
                        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                        let v: Vec<i32> = present
                            .map(|c| chrono::NaiveDate::parse_from_str(c, "%Y-%m-%d").map(|d| (d - epoch).num_days() as i32))
                            .collect::<Result<_, _>>()
                            .map_err(|e| perr(&e))?;
                        col.typed::<Int32Type>().write_batch(&v, Some(&defs), None).map_err(|e| perr(&e))?;
                    }
                    Kind::Decimal(scale) => {
                        let v: Vec<FixedLenByteArray> = present
                            .map(|c| {
                                let d = Decimal::from_str(c).map_err(|e| perr(&e))?;
                                let m = at_scale(d, *scale).ok_or_else(|| perr(&format!("{c} does not fit DECIMAL(38, {scale})")))?;
                                Ok(FixedLenByteArray::from(m.to_be_bytes().to_vec()))
                            })
                            .collect::<Result<_, String>>()?;
                        col.typed::<FixedLenByteArrayType>().write_batch(&v, Some(&defs), None).map_err(|e| perr(&e))?;
                    }
                }
                col.close().map_err(|e| perr(&e))?;
            }
            rg.close().map_err(|e| perr(&e))?;
        }
        writer.close().map_err(|e| perr(&e))?;
        summary.partitions.push((name.clone(), part.len()));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_rescale_exactly_or_not_at_all() {
        assert_eq!(at_scale(Decimal::new(12345, 2), 4), Some(1234500));
        assert_eq!(at_scale(Decimal::new(-5, 1), 10), Some(-5_000_000_000));
        assert_eq!(at_scale(Decimal::new(5, 3), 2), None, "a scale below the value's would round");
        assert_eq!(at_scale(Decimal::MAX, 10), None, "29 digits and 10 more do not fit 38");
        assert!(at_scale(Decimal::MAX, 9).is_some());
    }
}
