//! The bundled sample audit (sample-statements/ against rules/contracts/): every planted
//! error is found with its documented amount (sample-statements/README.md) and nothing else
//! is claimed; every output format is compared whole with a golden file.

mod common;

use common::*;
use rust_decimal::Decimal;
use std::str::FromStr;

const ARGS: &[&str] = &["--contract", "rules/contracts/nova-reed-harbour.toml", "sample-statements/"];

fn audit(format: &str) -> String {
    let mut args = vec!["audit", "--format", format];
    args.extend_from_slice(ARGS);
    let (code, stdout, stderr) = run(&manifest_dir(), &args);
    assert_eq!(code, 0, "stderr: {stderr}");
    stdout
}

fn dec(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap().round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[test]
fn every_plant_is_found_with_its_amount_and_nothing_else() {
    let v: serde_json::Value = serde_json::from_str(&audit("json")).unwrap();
    let mut claims: Vec<(String, String, Decimal, Decimal)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "claim")
        .map(|f| {
            (f["rule"].as_str().unwrap().to_string(), f["period"].as_str().unwrap_or("").to_string(), dec(&f["royalty_effect"]), dec(&f["cash_effect"]))
        })
        .collect();
    claims.sort();
    let d = |s: &str| Decimal::from_str(s).unwrap();
    let expected = vec![
        ("B4", "2024-H1", d("3197.46"), d("3197.46")),
        ("B4", "2024-H2", d("3249.56"), d("3249.56")),
        ("B4", "2025-H1", d("1582.99"), d("1582.99")),
        ("C1", "2024-H2", d("489.61"), d("489.61")),
        ("C6", "2025-H1", d("630.10"), d("630.10")),
        ("C6", "2025-H2", d("527.85"), d("527.85")),
        ("C9", "2025-H2", d("8545.17"), d("8545.17")),
        ("D3", "2024-H2", d("0"), d("2500.00")),
        ("E3", "2024-H2", d("0"), d("1187.66")),
        ("F1", "2025-H2", d("852.94"), d("852.94")),
    ];
    let expected: Vec<(String, String, Decimal, Decimal)> = expected.into_iter().map(|(r, p, a, b)| (r.to_string(), p.to_string(), a, b)).collect();
    assert_eq!(claims, expected);
    let t = &v["totals"];
    assert_eq!(dec(&t["royalty_effect"]), d("10530.51"));
    assert_eq!(dec(&t["principal"]), d("14218.17"));
    assert_eq!(dec(&t["interest"]), d("319.04"));
    assert_eq!(dec(&t["claim"]), d("14537.21"));
    assert_eq!(t["underpayment_pct"], "16.33");
    assert_eq!(t["cost_shift_met"], true);
    assert_eq!(dec(&t["third_party"]["Sam Vale"]), d("8545.17"));
    // No overstatements, no rejected rows, every file's totals reconcile.
    assert!(v["findings"].as_array().unwrap().iter().all(|f| f["severity"] != "overstatement"));
    for f in v["import"].as_array().unwrap() {
        assert_eq!(f["rows_rejected"], 0, "{f}");
        assert_ne!(f["control_totals_ok"], false, "{f}");
    }
}

#[test]
fn sample_audit_outputs_match_golden_files() {
    let json = audit("json");
    insta::assert_snapshot!("sample_json", json);
    insta::assert_snapshot!("sample_table", audit("table"));
    insta::assert_snapshot!("sample_csv", audit("csv"));
    insta::assert_snapshot!("sample_md", audit("md"));
    let html = audit("html");
    assert_eq!(html.matches("<svg").count(), 2, "two charts inline");
    insta::assert_snapshot!("sample_html", html);
    assert_eq!(json, audit("json"), "byte-identical across runs");
}

#[test]
fn claim_workbook_reads_back_with_the_audit_totals() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claim.xlsx");
    let mut args = vec!["audit", "--format", "json", "--claim", path.to_str().unwrap()];
    args.extend_from_slice(ARGS);
    let (code, stdout, stderr) = run(&manifest_dir(), &args);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    let names = wb.sheet_names().to_vec();
    assert_eq!(
        names,
        vec![
            "Summary",
            "Incorrect rates",
            "Unreported sales, income and te",
            "Excess costs charged",
            "Failure to apply escalations",
            "Excess amounts withheld",
            "Producer royalties",
            "Currency conversion"
        ]
    );
    let summary = wb.worksheet_range("Summary").unwrap();
    let find = |label: &str| -> f64 {
        let row = summary.rows().find(|r| matches!(&r[0], Data::String(s) if s == label)).unwrap_or_else(|| panic!("no {label} row"));
        match &row[1] {
            Data::Float(f) => *f,
            other => panic!("{label}: {other:?}"),
        }
    };
    assert_eq!(find("Claim total"), 14537.21);
    assert_eq!(find("Principal"), 14218.17);
    assert_eq!(find("Owed to Sam Vale (separate claim)"), 8545.17);
    // Every claim finding is on its category's sheet, with its interest.
    let mut rows = 0;
    for name in &names[1..] {
        let sheet = wb.worksheet_range(name).unwrap();
        assert_eq!(sheet.rows().next().unwrap()[0], Data::String("Id".into()));
        for r in sheet.rows().skip(1) {
            if let Data::String(id) = &r[0] {
                let f = v["findings"].as_array().unwrap().iter().find(|f| f["id"] == id.as_str()).unwrap();
                assert_eq!(Data::Float(dec(&f["interest"]).to_string().parse().unwrap()), r[13], "{id}");
                rows += 1;
            }
        }
    }
    assert_eq!(rows, v["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "claim").count());
    // Same audit, same bytes.
    let again = dir.path().join("again.xlsx");
    let mut args = vec!["audit", "--format", "json", "--claim", again.to_str().unwrap()];
    args.extend_from_slice(ARGS);
    run(&manifest_dir(), &args);
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
}
