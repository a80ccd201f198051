//! One test per input quirk the importer must handle (issue: statement import). Each asserts
//! the exact row accounting, reasons and decimal totals.

mod common;

use std::io::Write;
use std::str::FromStr;

use common::*;
use royalty_audit::import::{FileImport, ImportOptions, import_bytes, load_profiles};
use royalty_audit::ledger::{LedgerLine, LineFlag};
use rust_decimal::Decimal;

fn opts() -> ImportOptions {
    ImportOptions::new(load_profiles(None).unwrap(), None)
}

fn import(name: &str, bytes: &[u8]) -> FileImport {
    let mut v = import_bytes(name, bytes.to_vec(), &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 1);
    let f = v.remove(0);
    assert!(f.rows_balance(), "rows do not balance: {f:?}");
    f
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn net_total(f: &FileImport, currency: &str) -> Decimal {
    f.lines.iter().filter(|l| l.currency.code() == currency).filter_map(|l| l.net).sum()
}

fn reasons(f: &FileImport) -> Vec<String> {
    f.rejects.iter().map(|r| format!("{}: {}", r.source, r.reason)).collect()
}

/// The ledger without file names, for comparing the same data read from different files.
fn values(f: &FileImport) -> Vec<LedgerLine> {
    f.lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.source.file = "".into();
            l
        })
        .collect()
}

const HEADER: &str = "Sales Period,Store,Territory,ISRC,Quantity,Net Revenue,Currency";
const ROWS: [&str; 3] = [
    "2024-01,Spotify,US,GBABC2400001,1000,3.1234567890123,USD",
    "2024-01,Apple Music,GB,GBABC2400002,200,1.50,USD",
    "2024-02,Deezer,FR,GBABC2400001,50,0.20,EUR",
];

fn csv(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

#[test]
fn header_after_a_preamble() {
    let text = csv(&["Nova Reed - sales report", "Generated 2024-04-01", "", HEADER, ROWS[0], ROWS[1]]);
    let f = import("pre.csv", text.as_bytes());
    assert_eq!(f.profile, "generic-dsp");
    assert_eq!((f.rows_read, f.lines.len(), f.rejects.len(), f.nondata.len()), (6, 2, 0, 4));
    assert_eq!(f.nondata_reasons()["preamble"], 3);
    assert_eq!(f.nondata_reasons()["header"], 1);
    assert_eq!(f.lines[0].source.row, 5);
    assert_eq!(net_total(&f, "USD"), dec("4.6234567890123"));
}

#[test]
fn total_row_is_a_control_total_and_not_imported() {
    let ok = csv(&[HEADER, ROWS[0], ROWS[1], "Total,,,,1200,4.62,USD"]);
    let f = import("tot.csv", ok.as_bytes());
    assert_eq!((f.lines.len(), f.nondata_reasons()["total row"]), (2, 1));
    assert_eq!(f.control_totals_ok(), Some(true), "{:?}", f.controls);
    assert_eq!(f.controls.len(), 2);
    let net = f.controls.iter().find(|c| c.field == "net").unwrap();
    assert_eq!((net.stated, net.computed), (dec("4.62"), Some(dec("4.6234567890123"))));

    let bad = csv(&[HEADER, ROWS[0], ROWS[1], "Total,,,,1201,4.63,USD"]);
    let f = import("tot.csv", bad.as_bytes());
    assert_eq!(f.control_totals_ok(), Some(false));
    let failed: Vec<_> = f.controls.iter().filter(|c| c.ok == Some(false)).map(|c| c.source.to_string()).collect();
    assert_eq!(failed, vec!["tot.csv:4:F", "tot.csv:4:E"]);
}

#[test]
fn control_total_includes_money_of_rejected_rows() {
    // The second row's date is unreadable: rejected, but its amount still counts toward
    // the file's stated total, so the total reconciles and nothing is lost silently.
    let text = csv(&[HEADER, ROWS[0], "someday,Apple Music,GB,GBABC2400002,200,1.50,USD", "Total,,,,1200,4.62,USD"]);
    let f = import("rej.csv", text.as_bytes());
    assert_eq!((f.lines.len(), f.rejects.len()), (1, 1));
    assert_eq!(reasons(&f), vec!["rej.csv:3:A (Sales Period): 'someday' is not a period this profile can read"]);
    assert_eq!(f.rejected_totals()[&f.lines[0].currency]["net"], dec("1.50"));
    assert_eq!(f.control_totals_ok(), Some(true));
}

#[test]
fn header_repeated_mid_file() {
    let text = csv(&[HEADER, ROWS[0], HEADER, ROWS[1]]);
    let f = import("rep.csv", text.as_bytes());
    assert_eq!((f.lines.len(), f.nondata_reasons()["repeated header"]), (2, 1));
}

#[test]
fn blank_and_ragged_rows() {
    let text = csv(&[
        HEADER,
        ROWS[0],
        "",
        ",,,,,,",
        "2024-01,Apple Music,GB,GBABC2400002,200",
        "2024-01,Apple Music,GB,GBABC2400002,200,1.50,USD,surprise",
        ROWS[2],
    ]);
    let f = import("rag.csv", text.as_bytes());
    assert_eq!((f.rows_read, f.lines.len(), f.rejects.len(), f.nondata.len()), (7, 2, 2, 3));
    assert_eq!(f.nondata_reasons()["blank row"], 2);
    assert_eq!(
        reasons(&f),
        vec![
            "rag.csv:5:G (Currency): required currency is missing (the row has 5 of 7 fields)",
            "rag.csv:6:H: row has values in 8 columns but the header has 7",
        ]
    );
}

#[test]
fn quoted_newlines_keep_row_numbers() {
    let text = csv(&[
        "Sales Period,Store,Territory,ISRC,Track Title,Quantity,Net Revenue,Currency",
        "2024-01,Spotify,US,GBABC2400001,\"Low Tide",
        "(Acoustic)\",10,0.05,USD",
        "2024-01,Spotify,US,GBABC2400001,Glass Harbour,10,0.05,USD",
    ]);
    let f = import("nl.csv", text.as_bytes());
    assert_eq!(f.lines.len(), 2);
    assert_eq!(f.lines[0].title.as_deref(), Some("Low Tide\n(Acoustic)"));
    assert_eq!((f.lines[0].source.row, f.lines[1].source.row), (2, 4));
}

#[test]
fn truncated_last_line() {
    // Cut inside a quoted field: certainly truncated.
    let text = format!("{HEADER}\n{}\n2024-01,\"Apple", ROWS[0]);
    let f = import("cut.csv", text.as_bytes());
    assert_eq!((f.lines.len(), f.rejects.len()), (1, 1));
    assert_eq!(reasons(&f), vec!["cut.csv:3: last line ends inside a quoted field: the file is cut short"]);
    // Cut mid-row: fewer fields than the header and no line terminator.
    let text = format!("{HEADER}\n{}\n2024-01,Apple Music,GB,GBABC", ROWS[0]);
    let f = import("cut.csv", text.as_bytes());
    assert_eq!(reasons(&f), vec!["cut.csv:3: last line has 4 of 7 fields and no line terminator: the file is cut short"]);
    // A complete last row without a final newline is imported, flagged and noted.
    let text = format!("{HEADER}\n{}\n{}", ROWS[0], ROWS[1]);
    let f = import("nonl.csv", text.as_bytes());
    assert_eq!((f.lines.len(), f.rejects.len()), (2, 0));
    assert_eq!(f.lines[1].flags, vec![LineFlag::NoLineTerminator]);
    assert_eq!(f.notes.len(), 1);
}

#[test]
fn encodings_give_the_same_ledger() {
    let text = csv(&[
        "Sales Period,Store,Territory,ISRC,Track Title,Quantity,Net Revenue,Currency",
        "2024-01,Spotify,FR,GBABC2400001,Café Noël,10,0.05,EUR",
    ]);
    let base = values(&import("a.csv", text.as_bytes()));
    assert_eq!(base[0].title.as_deref(), Some("Café Noël"));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for u in text.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
        be.extend_from_slice(&u.to_be_bytes());
    }
    let (cp1252, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    for (what, bytes) in [("utf-8 bom", bom), ("utf-16le", le), ("utf-16be", be), ("windows-1252", cp1252.into_owned())] {
        assert_eq!(values(&import("a.csv", &bytes)), base, "{what}");
    }
    // A BOM repeated where two exports were concatenated.
    let twice = format!("\u{feff}{text}\u{feff}{}\n", text.lines().nth(1).unwrap());
    let f = import("a.csv", twice.as_bytes());
    assert_eq!(f.lines.len(), 2);
    assert_eq!(f.notes, vec!["1 byte-order mark(s) inside the file removed (concatenated exports)"]);
}

#[test]
fn delimiters_are_sniffed() {
    let base = values(&import("a.csv", csv(&[HEADER, ROWS[0], ROWS[1], ROWS[2]]).as_bytes()));
    assert_eq!(base.len(), 3);
    for d in ['\t', ';', '|'] {
        let lines: Vec<String> = [HEADER, ROWS[0], ROWS[1], ROWS[2]].iter().map(|l| l.replace(',', &d.to_string())).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let f = import("a.txt", csv(&refs).as_bytes());
        assert_eq!(f.delimiter.as_deref(), Some(d.to_string().as_str()));
        assert_eq!(values(&f), base, "delimiter {d:?}");
    }
}

#[test]
fn decimal_comma_profile_from_a_profiles_directory() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("eu-shop.toml"),
        r#"
name = "eu-shop"
title = "A European shop's report (decimal comma, day-first dates)"
statement_kind = "dsp"
priority = 50
[detect]
require = ["isrc", "net"]
[columns]
sale_period = ["Datum"]
isrc = ["ISRC"]
units = ["Anzahl"]
net = ["Netto"]
[constants]
currency = "EUR"
store = "deezer"
[numbers]
decimal_separator = ","
[dates]
format = "%d.%m.%Y"
sale_period_unit = "month"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("eu.csv"),
        "Datum;ISRC;Anzahl;Netto\n03.04.2024;GBABC2400001;1.200;1.234,5678\n04.04.2024;GBABC2400002;7;(0,50)\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["import", "--json", "--profiles", "profiles", "--out", "l.csv", "eu.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["files"][0]["profile"], "eu-shop");
    assert_eq!(v["files"][0]["totals"]["EUR"]["net"], "1234.0678000000");
    assert_eq!(v["files"][0]["totals"]["EUR"]["units"], 1207);
    let ledger = std::fs::read_to_string(dir.path().join("l.csv")).unwrap();
    assert!(ledger.contains(",2024-04,"), "{ledger}");
}

#[test]
fn negative_notations_and_long_decimals() {
    let text = csv(&[
        HEADER,
        "2024-01,Spotify,US,GBABC2400001,1,(1.23),USD",
        "2024-01,Spotify,US,GBABC2400001,1,1.23-,USD",
        "2024-01,Spotify,US,GBABC2400001,1,\u{2212}1.23,USD",
        "2024-01,Spotify,US,GBABC2400001,1,0.000000000012345678,USD",
        "2024-01,Spotify,US,GBABC2400001,1,\"$1,000.00\",USD",
    ]);
    let f = import("neg.csv", text.as_bytes());
    let nets: Vec<String> = f.lines.iter().map(|l| l.net.unwrap().to_string()).collect();
    assert_eq!(nets, vec!["-1.23", "-1.23", "-1.23", "0.000000000012345678", "1000.00"]);
    assert_eq!(net_total(&f, "USD"), dec("996.310000000012345678"));
}

#[test]
fn ambiguous_text_dates_are_rejected_not_guessed() {
    let text = csv(&[
        "Sale Date,Store,Territory,ISRC,Quantity,Net Revenue,Currency",
        "03/04/2024,Spotify,US,GBABC2400001,1,1.00,USD",
        "25/04/2024,Spotify,US,GBABC2400001,1,1.00,USD",
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), "name='dated'\ntitle='t'\nstatement_kind='dsp'\npriority=50\n[detect]\nrequire=['isrc','net']\n[columns]\nsale_period=['Sale Date']\nisrc=['ISRC']\nnet=['Net Revenue']\ncurrency=['Currency']\n").unwrap();
    let profiles = load_profiles(Some(dir.path())).unwrap();
    let mut v = import_bytes("d.csv", text.into_bytes(), &ImportOptions::new(profiles, Some("dated".into()))).unwrap();
    let f = v.remove(0);
    assert_eq!(f.lines.len(), 1);
    assert_eq!(f.lines[0].sale_period.unwrap().to_string(), "2024-04-25");
    assert_eq!(
        reasons(&f),
        vec!["d.csv:2:A (Sale Date): date '03/04/2024' is ambiguous (day/month or month/day); set a date format in the profile"]
    );
}

#[test]
fn identifiers_mangled_to_scientific_notation_are_rejected() {
    let text = csv(&[
        "Sales Period,Store,Territory,ISRC,UPC,Quantity,Net Revenue,Currency",
        "2024-01,Spotify,US,GBABC2400001,8.40123E+11,1,1.00,USD",
        "2024-01,Spotify,US,GBABC2400001,60123456788,1,1.00,USD",
        "2024-01,Spotify,US,GB-ABC-24-0000,840123456787,1,1.00,USD",
    ]);
    let f = import("ids.csv", text.as_bytes());
    assert_eq!(reasons(&f), vec!["ids.csv:2:E (UPC): UPC '8.40123E+11' was turned into scientific notation; its digits are lost"]);
    assert_eq!(f.lines[0].upc.as_deref(), Some("060123456788"));
    assert_eq!(
        f.lines[1].flags,
        vec![LineFlag::InvalidIsrc("GB-ABC-24-0000".into()), LineFlag::InvalidUpc("840123456787".into())]
    );
}

#[test]
fn gzip_and_zip_containers() {
    let text = csv(&[HEADER, ROWS[0], ROWS[1], ROWS[2]]);
    let base = values(&import("s.csv", text.as_bytes()));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let f = import("s.csv.gz", &gz.finish().unwrap());
    assert_eq!(f.file, "s.csv.gz");
    assert_eq!(&*f.lines[0].source.file, "s.csv.gz");
    assert_eq!(values(&f), base);

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["b/second.csv", "a.csv"] {
        zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    let v = import_bytes("pack.zip", bytes, &opts()).unwrap();
    let names: Vec<&str> = v.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(names, vec!["pack.zip!a.csv", "pack.zip!b/second.csv"]);
    assert_eq!(values(&v[1]), base);
}

fn workbook(cells: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["Sale Date", "Store", "Territory", "ISRC", "Quantity", "Net Revenue", "Currency"].iter().enumerate() {
        ws.write(0, c as u16, *h).unwrap();
    }
    cells(ws);
    wb.save_to_buffer().unwrap()
}

fn write_row(ws: &mut rust_xlsxwriter::Worksheet, r: u32, date_serial: f64, net: f64) {
    ws.write(r, 0, date_serial).unwrap();
    ws.write(r, 1, "Spotify").unwrap();
    ws.write(r, 2, "US").unwrap();
    ws.write(r, 3, "GBABC2400001").unwrap();
    ws.write(r, 4, 10).unwrap();
    ws.write(r, 5, net).unwrap();
    ws.write(r, 6, "USD").unwrap();
}

#[test]
fn formula_without_cached_value_and_error_cells_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xlsx");
    let bytes = workbook(|ws| {
        write_row(ws, 1, 45292.0, 1.25);
        write_row(ws, 2, 45292.0, 0.0);
        ws.write_formula(2, 5, "=F2*2").unwrap();
        ws.set_formula_result(2, 5, "2.5");
        write_row(ws, 3, 45292.0, 0.0);
        ws.write_formula(3, 5, "=F2*3").unwrap();
        ws.set_formula_result(3, 5, "NOCACHE");
        write_row(ws, 4, 45292.0, 0.0);
        ws.write_formula(4, 5, "=NA()").unwrap();
        ws.set_formula_result(4, 5, "#N/A");
    });
    std::fs::write(&path, bytes).unwrap();
    patch_xlsx(&path, "xl/worksheets/sheet1.xml", "<v>NOCACHE</v>", "");
    let f = import("f.xlsx", &std::fs::read(&path).unwrap());
    assert_eq!((f.lines.len(), f.rejects.len()), (2, 2));
    assert_eq!(f.lines[1].net, Some(dec("2.5")));
    assert_eq!(
        reasons(&f),
        vec![
            "f.xlsx:Sheet1:4:F (Net Revenue): formula =F2*3 has no saved result (recalculate and save the workbook)",
            "f.xlsx:Sheet1:5:F (Net Revenue): cell holds the error value #N/A",
        ]
    );
}

#[test]
fn excel_serial_dates_in_both_date_systems() {
    let dir = tempfile::tempdir().unwrap();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let make = |path: &std::path::Path| {
        let bytes = workbook(|ws| {
            // A date cell and a plain number holding the same serial.
            write_row(ws, 1, 0.0, 1.0);
            ws.write_with_format(1, 0, 45292.0, &date).unwrap();
            write_row(ws, 2, 45292.0, 1.0);
        });
        std::fs::write(path, bytes).unwrap();
    };
    let p1900 = dir.path().join("d1900.xlsx");
    make(&p1900);
    let f = import("d1900.xlsx", &std::fs::read(&p1900).unwrap());
    let days: Vec<String> = f.lines.iter().map(|l| l.sale_period.unwrap().to_string()).collect();
    assert_eq!(days, vec!["2024-01-01", "2024-01-01"]);

    let p1904 = dir.path().join("d1904.xlsx");
    make(&p1904);
    patch_xlsx(&p1904, "xl/workbook.xml", "<workbookPr", "<workbookPr date1904=\"1\"");
    let f = import("d1904.xlsx", &std::fs::read(&p1904).unwrap());
    let days: Vec<String> = f.lines.iter().map(|l| l.sale_period.unwrap().to_string()).collect();
    // Serial 45292 counts from 1904-01-01 in the 1904 system.
    assert_eq!(days, vec!["2028-01-02", "2028-01-02"]);
}

#[test]
fn workbook_merged_cells_hidden_and_extra_sheets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("label.xlsx");
    write_label_statement(&path);
    let f = import("label.xlsx", &std::fs::read(&path).unwrap());
    assert_eq!(f.profile, "label-statement");
    // The period merged down the four income rows belongs to each of them.
    let periods: Vec<String> = f.lines.iter().take(4).map(|l| l.accounting_period.unwrap().to_string()).collect();
    assert_eq!(periods, vec!["2024-H1"; 4]);
    assert_eq!(f.hidden_sheets, vec!["Workings"]);
    assert_eq!(f.nondata_reasons()["sheet without a header row"], 2);
    assert_eq!(f.lines[2].royalty, Some(dec("1800")), "cached formula result");
    assert_eq!(f.lines[2].upc.as_deref(), Some("060123456788"), "UPC leading zero restored");
    assert_eq!(f.lines[0].royalty_rate, Some(dec("0.20")));
    let kinds: Vec<String> = f.lines.iter().skip(4).map(|l| format!("{:?}:{}", l.line_kind, l.amount.unwrap())).collect();
    assert_eq!(kinds, vec!["OpeningBalance:-12000", "Charge:-5000", "ReserveWithheld:-441", "Payment:0", "ClosingBalance:-14976"]);
    assert_eq!(f.lines[5].details().charge_kind.as_deref(), Some("video"));
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mystery.csv"), "a,b,c\n1,2,3\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "mystery.csv"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("mystery.csv: no statement profile recognises this file"), "{stderr}");
    let (code, _, stderr) = run(dir.path(), &["import", "missing.csv"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("missing.csv"), "{stderr}");
    let (code, ..) = run(dir.path(), &["import"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = run(dir.path(), &["import", "--profile", "nope", "mystery.csv"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown profile 'nope'"), "{stderr}");
    std::fs::write(dir.path().join("broken.xlsx"), b"PK\x03\x04 not really").unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "broken.xlsx"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("broken.xlsx: not a readable workbook"), "{stderr}");
}

#[test]
fn inspect_and_profiles_commands() {
    let (code, stdout, _) = run(&manifest_dir(), &["inspect", "tests/fixtures/distrokid_2024-04.tsv", "--rows", "2"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("profile:  distrokid"), "{stdout}");
    assert!(stdout.contains("Earnings (USD)"), "{stdout}");
    assert!(stdout.contains("first 2 of 9 ledger lines"), "{stdout}");
    let (code, stdout, _) = run(&manifest_dir(), &["profiles"]);
    assert_eq!(code, 0);
    for name in ["bandcamp", "cdbaby", "ddex-dsr", "distrokid", "generic-dsp", "label-statement", "tunecore"] {
        assert!(stdout.contains(name), "{name} missing from\n{stdout}");
    }
}

/// An OpenDocument spreadsheet written by hand: mimetype, manifest and content.xml.
fn ods(rows: &[Vec<(&str, &str)>]) -> Vec<u8> {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sales">"#,
    );
    for row in rows {
        xml.push_str("<table:table-row>");
        for (kind, v) in row {
            match *kind {
                "n" => xml.push_str(&format!(r#"<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>"#)),
                _ => xml.push_str(&format!(r#"<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>"#)),
            }
        }
        xml.push_str("</table:table-row>");
    }
    xml.push_str("</table:table></office:spreadsheet></office:body></office:document-content>");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
    zip.start_file("META-INF/manifest.xml", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
    zip.start_file("content.xml", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(xml.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn opendocument_spreadsheet() {
    let header: Vec<(&str, &str)> = HEADER.split(',').map(|h| ("s", h)).collect();
    let row = vec![("s", "2024-01"), ("s", "Spotify"), ("s", "US"), ("s", "GBABC2400001"), ("n", "1000"), ("n", "3.1234567890123"), ("s", "USD")];
    let f = import("sales.ods", &ods(&[header, row]));
    assert_eq!((f.format.as_str(), f.profile.as_str(), f.lines.len()), ("ods", "generic-dsp", 1));
    assert_eq!(f.lines[0].source.to_string(), "sales.ods:Sales:2");
    assert_eq!(f.lines[0].net, Some(dec("3.1234567890123")));
    assert_eq!(f.lines[0].units, Some(dec("1000")));
}

#[test]
fn zip_and_gzip_bombs_are_refused_after_a_bounded_read() {
    // 80 MiB of zeros compresses to about 80 KiB (~1000:1); refused once 64 MiB are read.
    let zeros = vec![0u8; 1 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..80 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let err = import_bytes("bomb.csv.gz", bomb.clone(), &opts()).unwrap_err();
    assert_eq!(err.file, "bomb.csv.gz");
    assert!(err.message.starts_with("gzip data expands more than 100 times its compressed size"), "{}", err.message);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("inner.csv", zip::write::SimpleFileOptions::default()).unwrap();
    for _ in 0..80 {
        zip.write_all(&zeros).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    let err = import_bytes("pack.zip", bytes, &opts()).unwrap_err();
    assert!(err.message.starts_with("zip entry inner.csv expands more than 100 times"), "{}", err.message);
}

#[test]
fn a_cell_of_absurd_length_rejects_its_row_with_the_reason() {
    let long = "A".repeat(2 << 20);
    let bad = format!("2024-01-15,Spotify,US,GBABC2400001,{long},1.00,USD");
    let text = csv(&[HEADER, ROWS[0], &bad, ROWS[1]]);
    let f = import("s.csv", text.as_bytes());
    assert_eq!((f.lines.len(), f.rejects.len()), (2, 1));
    assert_eq!(f.rejects[0].source.row, 3);
    assert_eq!(f.rejects[0].reason, "cell of 2097152 bytes is longer than the 1024 KiB limit");
    assert!(f.rows_balance());
}
