//! Helpers shared by the end-to-end tests: running the binary, building workbooks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared corpus beside the project (../shared/corpus). Tests that need it fail loudly
/// when it is missing rather than passing without checking anything.
pub fn corpus_dir() -> PathBuf {
    let dir = manifest_dir().join("../shared/corpus");
    assert!(dir.is_dir(), "the shared corpus is expected at {}", dir.display());
    dir
}

pub fn bin() -> Command {
    Command::cargo_bin("royalty-audit").expect("binary built")
}

/// Run the binary in `cwd` and return (exit code, stdout, stderr).
pub fn run(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin().current_dir(cwd).args(args).output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn run_json(cwd: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["import", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(cwd, &all);
    assert_eq!(code, 0, "stderr: {stderr}");
    serde_json::from_str(&stdout).expect("one JSON object")
}

/// Rewrite parts of an xlsx package (XML text replacements), e.g. to switch the workbook
/// to the 1904 date system or drop a formula's cached value, which rust_xlsxwriter
/// cannot write directly.
pub fn patch_xlsx(path: &Path, part: &str, from: &str, to: &str) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut replaced = false;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == part {
            let text = String::from_utf8(data).unwrap();
            assert!(text.contains(from), "{part} does not contain {from}");
            data = text.replacen(from, to, 1).into_bytes();
            replaced = true;
        }
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&data).unwrap();
    }
    assert!(replaced, "no part {part}");
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

/// A label royalty statement as labels send them: a merged title and preamble, the period
/// merged down the detail rows, numeric UPCs, date cells for sale months, a formula with its
/// cached result, a subtotal row, the account section, a hidden workings sheet and a notes
/// sheet without a header.
pub fn write_label_statement(path: &Path) {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("mmm-yy");
    let ws = wb.add_worksheet().set_name("Statement").unwrap();
    ws.merge_range(0, 0, 0, 15, "Harbour Records Ltd - Artist Royalty Statement", &bold).unwrap();
    ws.write(1, 0, "Artist: Nova Reed").unwrap();
    ws.write(2, 0, "Account: NR-001").unwrap();
    ws.write(3, 0, "Statement period: 1 January 2024 to 30 June 2024").unwrap();
    let header = [
        "Period", "Account", "Type", "Description", "Source", "Territory", "Configuration", "ISRC", "UPC",
        "Title", "Sale Period", "Units", "Price", "Receipts", "Rate", "Royalty", "Currency",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_with_format(5, c as u16, *h, &bold).unwrap();
    }
    // row, type, description, source, territory, config, isrc, upc(number), title, month, units, price, receipts, rate, royalty
    type R<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, f64, &'a str, u8, f64, Option<f64>, Option<f64>, f64, Option<f64>);
    let income: [R; 4] = [
        ("Income", "Streaming income", "Spotify", "US", "Streaming", "GBABC2400001", 840123456786.0, "Glass Harbour", 1, 250000.0, None, Some(1000.0), 20.0, Some(200.0)),
        ("Income", "Streaming income", "Apple Music", "GB", "Streaming", "GBABC2400002", 840123456786.0, "Low Tide", 2, 52000.0, None, Some(400.0), 15.0, Some(60.0)),
        ("Income", "CD sales", "Physical", "US", "CD", "", 60123456788.0, "Harbour Lights", 3, 1000.0, Some(10.0), None, 18.0, None),
        ("Income", "Vinyl sales", "Physical", "DE", "Vinyl", "", 60123456788.0, "Harbour Lights", 4, 200.0, Some(15.0), None, 13.5, Some(405.0)),
    ];
    for (i, (kind, desc, source, terr, config, isrc, upc, title, month, units, price, receipts, rate, royalty)) in income.iter().enumerate() {
        let r = 6 + i as u32;
        ws.write(r, 1, "NR-001").unwrap();
        ws.write(r, 2, *kind).unwrap();
        ws.write(r, 3, *desc).unwrap();
        ws.write(r, 4, *source).unwrap();
        ws.write(r, 5, *terr).unwrap();
        ws.write(r, 6, *config).unwrap();
        if !isrc.is_empty() {
            ws.write(r, 7, *isrc).unwrap();
        }
        ws.write(r, 8, *upc).unwrap();
        ws.write(r, 9, *title).unwrap();
        let d = ExcelDateTime::from_ymd(2024, *month, 1).unwrap();
        ws.write_datetime_with_format(r, 10, &d, &date).unwrap();
        ws.write(r, 11, *units).unwrap();
        if let Some(p) = price {
            ws.write(r, 12, *p).unwrap();
        }
        if let Some(x) = receipts {
            ws.write(r, 13, *x).unwrap();
        }
        ws.write(r, 14, *rate).unwrap();
        match royalty {
            Some(v) => {
                ws.write(r, 15, *v).unwrap();
            }
            None => {
                // The CD line's royalty is a formula; Excel saved its result.
                ws.write_formula(r, 15, "=L9*M9*O9/100").unwrap();
                ws.set_formula_result(r, 15, "1800");
            }
        }
        ws.write(r, 16, "USD").unwrap();
    }
    ws.merge_range(6, 0, 9, 0, "2024-H1", &Format::new()).unwrap();
    ws.write(10, 3, "Subtotal royalties").unwrap();
    ws.write(10, 11, 303200.0).unwrap();
    ws.write(10, 15, 2465.0).unwrap();
    let account: [(&str, &str, f64); 5] = [
        ("Opening balance", "Balance brought forward", -12000.0),
        ("Charge", "Video production costs", -5000.0),
        ("Reserve", "Reserve against returns (physical)", -441.0),
        ("Payment", "Paid to artist", 0.0),
        ("Closing balance", "Balance carried forward", -14976.0),
    ];
    for (i, (kind, desc, amount)) in account.iter().enumerate() {
        let r = 12 + i as u32;
        ws.write(r, 0, "2024-H1").unwrap();
        ws.write(r, 1, "NR-001").unwrap();
        ws.write(r, 2, *kind).unwrap();
        ws.write(r, 3, *desc).unwrap();
        ws.write(r, 15, *amount).unwrap();
        ws.write(r, 16, "USD").unwrap();
    }
    let notes = wb.add_worksheet().set_name("Notes").unwrap();
    notes.write(0, 0, "Royalties are computed on PPD for physical and on net receipts for digital.").unwrap();
    notes.write(1, 0, "Queries to royalties@harbour.example").unwrap();
    let hidden = wb.add_worksheet().set_name("Workings").unwrap();
    hidden.write(0, 0, "internal").unwrap();
    hidden.write(1, 0, 123.0).unwrap();
    hidden.set_hidden(true);
    wb.save(path).unwrap();
}
