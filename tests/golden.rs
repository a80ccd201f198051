//! End-to-end: run the binary on a fixture for every bundled profile and on every DSR file of
//! the shared corpus, and compare the whole `import --json` output with a golden file
//! (tests/snapshots/). Regenerate after an intended change with `INSTA_UPDATE=always cargo
//! test --test golden` and review the diff.

mod common;

use common::*;

fn golden(name: &str, cwd: &std::path::Path, args: &[&str]) {
    let mut all = vec!["import", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(cwd, &all);
    assert_eq!(code, 0, "stderr: {stderr}");
    insta::assert_snapshot!(name, stdout);
}

#[test]
fn distrokid() {
    golden("distrokid", &manifest_dir(), &["tests/fixtures/distrokid_2024-04.tsv"]);
}

#[test]
fn tunecore() {
    golden("tunecore", &manifest_dir(), &["tests/fixtures/tunecore_sales_2024-02.csv"]);
}

#[test]
fn cdbaby() {
    golden("cdbaby", &manifest_dir(), &["tests/fixtures/cdbaby_digital_2024-Q1.csv"]);
}

#[test]
fn bandcamp() {
    golden("bandcamp", &manifest_dir(), &["tests/fixtures/bandcamp_sales_2024.csv"]);
}

#[test]
fn generic_dsp() {
    golden("generic_dsp", &manifest_dir(), &["tests/fixtures/dsp_sales_2024-01.csv"]);
}

#[test]
fn label_statement_workbook() {
    let dir = tempfile::tempdir().unwrap();
    write_label_statement(&dir.path().join("label_statement_2024-H1.xlsx"));
    golden("label_statement", dir.path(), &["label_statement_2024-H1.xlsx"]);
}

#[test]
fn every_dsr_file_in_the_corpus() {
    let dir = corpus_dir().join("dsrf");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tsv"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "the corpus has five DSR files");
    for name in &names {
        let key = format!("dsrf_{}", name.trim_end_matches(".tsv"));
        golden(&key, &dir, &[name]);
    }
}

#[test]
fn dsr_multi_part_report_as_a_directory() {
    golden("dsrf_directory", &corpus_dir(), &["dsrf"]);
}

/// The ledger itself (`--out ledger.csv`) for every fixture, so the parsed values (periods,
/// identifiers, amounts, kinds) are pinned too, not only the summary.
#[test]
fn ledger_csv_of_all_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    write_label_statement(&dir.path().join("label_statement_2024-H1.xlsx"));
    for f in std::fs::read_dir(manifest_dir().join("tests/fixtures")).unwrap() {
        let f = f.unwrap();
        if f.path().is_file() {
            std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
        }
    }
    let dsr = "DSR_TEST_YouTube_AdSupport-music_2015-Q4_IS_1of1_20160121T150926.tsv";
    std::fs::copy(corpus_dir().join("dsrf").join(dsr), dir.path().join(dsr)).unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "--out", "ledger.csv", "."]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let ledger = std::fs::read_to_string(dir.path().join("ledger.csv")).unwrap();
    insta::assert_snapshot!("ledger_csv", ledger);
}
