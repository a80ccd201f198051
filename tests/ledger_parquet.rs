//! `import --out DIR.parquet`: the ledger partitioned by period, read back with the parquet
//! crate's own reader and compared cell by cell with the CSV ledger of the same import.

mod common;

use common::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

fn decimal_of(f: &Field) -> Option<Decimal> {
    match f {
        Field::Decimal(d) => {
            let bytes: [u8; 16] = d.data().try_into().ok()?;
            Decimal::try_from_i128_with_scale(i128::from_be_bytes(bytes), d.scale() as u32).ok()
        }
        _ => None,
    }
}

#[test]
fn parquet_ledger_holds_the_csv_ledger_exactly_partitioned_by_period() {
    let dir = tempfile::tempdir().unwrap();
    let samples = manifest_dir().join("sample-statements");
    let csv_path = dir.path().join("ledger.csv");
    let pq_path = dir.path().join("ledger.parquet");
    let s = samples.to_str().unwrap();
    let (code, _, err) = run(dir.path(), &["import", s, "--out", csv_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(dir.path(), &["import", s, "--out", pq_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("period partitions"), "{err}");

    // The CSV ledger by (file, row).
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut want: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in reader.records() {
        let r = r.unwrap();
        want.insert((r[0].to_string(), r[2].to_string()), r.iter().map(String::from).collect());
    }
    assert!(want.len() > 2000);

    let mut seen = 0;
    let mut partitions = Vec::new();
    for entry in std::fs::read_dir(&pq_path).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        partitions.push(name.clone());
        let file = std::fs::File::open(entry.path().join("part-0.parquet")).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let cols: Vec<(&String, &Field)> = row.get_column_iter().collect();
            assert_eq!(cols.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), headers, "same columns, same order");
            let file_name = match cols[0].1 {
                Field::Str(s) => s.clone(),
                other => panic!("file column holds {other:?}"),
            };
            let row_no = match cols[2].1 {
                Field::Long(n) => n.to_string(),
                other => panic!("row column holds {other:?}"),
            };
            let expected = want.get(&(file_name.clone(), row_no.clone())).unwrap_or_else(|| panic!("{file_name}:{row_no} not in the CSV ledger"));
            for ((name, field), text) in cols.iter().zip(expected) {
                match field {
                    Field::Null => assert!(text.is_empty(), "{name}: null where the CSV has '{text}'"),
                    Field::Str(s) => assert_eq!(s, text, "{name}"),
                    Field::Long(n) => assert_eq!(&n.to_string(), text, "{name}"),
                    Field::Date(_) => assert!(!text.is_empty(), "{name}"),
                    Field::Decimal(_) => assert_eq!(decimal_of(field), Some(Decimal::from_str(text).unwrap()), "{name} at {file_name}:{row_no}"),
                    other => panic!("{name}: unexpected {other:?}"),
                }
            }
            // Each line sits in the partition of its period (accounting, else sale period).
            let period = if !expected[9].is_empty() { &expected[9] } else if !expected[8].is_empty() { &expected[8] } else { "none" };
            assert_eq!(name, format!("period={period}"));
            seen += 1;
        }
    }
    assert_eq!(seen, want.len(), "every ledger line is in exactly one partition");
    assert!(partitions.len() > 10);

    // The directory is not overwritten.
    let (code, _, err) = run(dir.path(), &["import", s, "--out", pq_path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("not empty"), "{err}");
}
