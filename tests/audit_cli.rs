//! End-to-end audits: the binary on a generated label statement workbook plus distributor
//! data against a contract file, every output format compared whole with golden files
//! (tests/snapshots/; regenerate with `INSTA_UPDATE=always cargo test --test audit_cli`).

mod common;

use common::*;
use std::path::Path;

/// A statement folder: the Harbour Records workbook (correct apart from what the
/// distributor data reveal) and the distributor's report with a store the label never
/// reported (Deezer) and a Spotify month the label under-reported.
fn statements(dir: &Path) {
    std::fs::create_dir_all(dir.join("statements")).unwrap();
    write_label_statement(&dir.join("statements/label_statement_2024-H1.xlsx"));
    std::fs::write(
        dir.join("statements/distributor_2024-H1.csv"),
        "Sales Period,Store,Offering,Territory,ISRC,UPC,Track Title,Artist,Sale Type,Quantity,Gross Revenue,Net Revenue,Currency\n\
         2024-01,Spotify,Premium,US,GBABC2400001,,Glass Harbour,Nova Reed,Stream,250000,1250.00,1000.00,USD\n\
         2024-02,Apple Music,Premium,GB,GBABC2400002,,Low Tide,Nova Reed,Stream,52000,480.00,440.00,USD\n\
         2024-03,Deezer,Premium,US,GBABC2400001,,Glass Harbour,Nova Reed,Stream,20000,90.00,80.00,USD\n",
    )
    .unwrap();
    std::fs::copy(manifest_dir().join("tests/fixtures/contracts/harbour.toml"), dir.join("harbour.toml")).unwrap();
}

const ARGS: &[&str] = &["--contract", "harbour.toml", "statements", "--claim-date", "2025-06-30", "--lag-months", "3"];

fn audit(dir: &Path, format: &str) -> String {
    let mut args = vec!["audit", "--format", format];
    args.extend_from_slice(ARGS);
    let (code, stdout, stderr) = run(dir, &args);
    assert_eq!(code, 0, "stderr: {stderr}");
    stdout
}

#[test]
fn audit_every_format_matches_golden() {
    let dir = tempfile::tempdir().unwrap();
    statements(dir.path());
    let json = audit(dir.path(), "json");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "royalty-audit/audit/v1");
    // Deezer (never on the label statement): 80 × 20% = 16; Apple GB receipts short by 40:
    // 40 × 20% × 75% = 6.
    let claims: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "claim")
        .map(|f| (f["rule"].as_str().unwrap(), f["royalty_effect"].as_str().unwrap()))
        .collect();
    assert_eq!(claims, vec![("B3", "6.00"), ("B4", "16.00")]);
    insta::assert_snapshot!("audit_json", json);
    insta::assert_snapshot!("audit_table", audit(dir.path(), "table"));
    insta::assert_snapshot!("audit_csv", audit(dir.path(), "csv"));
    insta::assert_snapshot!("audit_md", audit(dir.path(), "md"));
    // Byte-identical on a second run.
    assert_eq!(json, audit(dir.path(), "json"));
}

#[test]
fn explain_prints_the_working_of_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    statements(dir.path());
    let v: serde_json::Value = serde_json::from_str(&audit(dir.path(), "json")).unwrap();
    let id = v["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "B4").unwrap()["id"].as_str().unwrap().to_string();
    let mut args = vec!["explain", id.as_str()];
    args.extend_from_slice(ARGS);
    let (code, stdout, stderr) = run(dir.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("explain_b4", stdout);
    let mut args = vec!["explain", "C1-00000000"];
    args.extend_from_slice(ARGS);
    let (code, _, stderr) = run(dir.path(), &args);
    assert_eq!(code, 2);
    assert!(stderr.contains("no finding 'C1-00000000'"), "{stderr}");
}

#[test]
fn check_contract_says_what_it_understood() {
    let (code, stdout, stderr) = run(&manifest_dir(), &["check-contract", "tests/fixtures/contracts/harbour.toml"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("check_contract", stdout);
}

#[test]
fn contract_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[contract]\nid = \"x\"\npayee = \"A\"\ncurrency = \"USD\"\naccounting = \"fortnightly\"\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["check-contract", "bad.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("royalty-audit: bad.toml:5:14: unknown variant `fortnightly`, expected one of"), "{stderr}");
    std::fs::write(dir.path().join("bad.toml"), "[contract]\nid = \"x\"\npayee = \"A\"\ncurrency = \"USD\"\n\n[[splits]]\nisrc = \"GBABC2400001\"\nshares = { A = 50, B = 40 }\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["audit", "--contract", "bad.toml", "."]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim(), "royalty-audit: bad.toml:6:1: [[splits]] shares sum to 90; expected 100");
}

/// The same audit with the distributor report streamed and rolled up gives the same claims,
/// also when a label income line of another kind (vinyl) names no territory, so that the
/// sales rows are rolled up by territory group.
#[test]
fn a_streamed_sales_report_gives_the_same_claims() {
    use royalty_audit::{contract, engine, import};
    for vinyl_territory in ["DE", ""] {
        let dir = tempfile::tempdir().unwrap();
        statements(dir.path());
        let workbook = dir.path().join("statements/label_statement_2024-H1.xlsx");
        patch_xlsx(&workbook, "xl/sharedStrings.xml", "<t>DE</t>", &format!("<t>{vinyl_territory}</t>"));
        let c = contract::load_contract(&dir.path().join("harbour.toml")).unwrap();
        let claims = |stream_over: u64| {
            let mut opts = import::ImportOptions::new(import::load_profiles(None).unwrap(), None);
            opts.stream_over = stream_over;
            let (files, errors) = engine::inputs::import_for_audit(&[dir.path().join("statements")], &opts, &c);
            assert!(errors.is_empty(), "{errors:?}");
            let opts = engine::Options { claim_date: "2025-06-30".parse().ok(), lag_months: Some(3), ..Default::default() };
            let audit = engine::run(&c, &files, &opts);
            let claims: Vec<(String, String)> = audit
                .findings
                .iter()
                .filter(|f| f.severity == engine::finding::Severity::Claim)
                .map(|f| (format!("{:?}", f.rule), f.royalty_effect.round_dp(2).to_string()))
                .collect();
            (claims, files.iter().map(|f| f.lines.len()).sum::<usize>())
        };
        let (whole, _) = claims(u64::MAX);
        let (streamed, lines) = claims(0);
        assert_eq!(whole, vec![("B3".to_string(), "6.00".to_string()), ("B4".to_string(), "16.00".to_string())], "territory '{vinyl_territory}'");
        assert_eq!(streamed, whole, "territory '{vinyl_territory}' ({lines} lines)");
    }
}
