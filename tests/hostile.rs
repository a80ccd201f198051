//! The hostile corpus (tests/hostile/, written by `cargo run --example make_hostile`): each
//! file imports to exactly the counts, rejects and per-currency totals its generator
//! declared in expected.json.

use std::collections::BTreeMap;
use std::str::FromStr;

use royalty_audit::import::{import_path, load_profiles, ImportOptions};
use rust_decimal::Decimal;

#[test]
fn every_hostile_file_imports_as_its_generator_declared() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let opts = ImportOptions::new(load_profiles(None).unwrap(), None);
    let cases = expected.as_array().unwrap();
    assert!(cases.len() >= 14, "the corpus holds the text, container and workbook cases");
    for case in cases {
        let path = dir.join(case["path"].as_str().unwrap());
        let f = import_path(&path, &opts).unwrap_or_else(|e| panic!("{e}")).remove(0);
        let name = case["path"].as_str().unwrap();
        assert!(f.file.ends_with(case["file"].as_str().unwrap()), "{name}: {}", f.file);
        let counts = (f.rows_read, f.lines.len() as u64, f.rejects.len() as u64, f.nondata.len() as u64);
        let want = ["rows_read", "rows_imported", "rows_rejected", "rows_nondata"].map(|k| case[k].as_u64().unwrap());
        assert_eq!(counts, (want[0], want[1], want[2], want[3]), "{name}: {:?}", f.rejects);
        for (r, w) in f.rejects.iter().zip(case["rejects"].as_array().unwrap()) {
            assert_eq!(r.source.row, w["row"].as_u64().unwrap(), "{name}");
            let needle = w["reason_contains"].as_str().unwrap();
            assert!(r.reason.contains(needle), "{name} row {}: '{}' lacks '{needle}'", r.source.row, r.reason);
        }
        let mut totals: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
        for l in &f.lines {
            let t = totals.entry(l.currency.code().to_string()).or_default();
            t.0 += l.units.unwrap_or_default();
            t.1 += l.net.unwrap_or_default();
        }
        let want: BTreeMap<String, (Decimal, Decimal)> = case["totals"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(c, v)| {
                let d = |k: &str| Decimal::from_str(v[k].as_str().unwrap()).unwrap();
                (c.clone(), (d("units"), d("net")))
            })
            .collect();
        assert_eq!(totals, want, "{name}");
        assert_eq!(serde_json::to_value(f.control_totals_ok()).unwrap(), case["control_totals_ok"], "{name}");
        assert!(f.rows_balance(), "{name}");
    }
}
