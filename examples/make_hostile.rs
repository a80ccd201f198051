//! Writes `tests/hostile/`: statement files with the layout and encoding quirks the importer
//! must survive, and `expected.json`, what each must import to. The expectations come from
//! how each file is built here (which rows are data, which are broken and why, what the
//! money adds up to), never from running the importer. Deterministic; do not hand-edit.
//!
//!     cargo run --example make_hostile

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Value};

const HEADER: &str = "Sales Period,Store,Territory,ISRC,Quantity,Net Revenue,Currency";

/// One physical row of a case and what it must become.
enum Out {
    /// A ledger line: units, net, currency.
    Line(&'static str, &'static str, &'static str),
    /// A rejected row; the reason must contain this text.
    Reject(&'static str),
    /// A declared non-data row (header, preamble, blank, total…).
    Skip,
}

struct Case {
    file: &'static str,
    note: &'static str,
    rows: Vec<(String, Out)>,
    control_ok: Option<bool>,
    /// Bytes from the rows' text (UTF-8 with `\n`), or a transformation of it.
    encode: fn(&str) -> Vec<u8>,
}

fn utf8(t: &str) -> Vec<u8> {
    t.as_bytes().to_vec()
}

fn utf16le(t: &str) -> Vec<u8> {
    let mut b = vec![0xFF, 0xFE];
    b.extend(t.encode_utf16().flat_map(|u| u.to_le_bytes()));
    b
}

fn windows1252(t: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(t).0.into_owned()
}

fn crlf(t: &str) -> Vec<u8> {
    t.replace('\n', "\r\n").into_bytes()
}

fn gzip(t: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(t.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

fn zipped(t: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("inner/report.csv", zip::write::SimpleFileOptions::default()).expect("zip");
    zip.write_all(t.as_bytes()).expect("zip");
    zip.finish().expect("zip").into_inner()
}

/// A workbook (one sheet, "Sales") holding the rows: cells that read as plain numbers are
/// written as Excel numbers (binary floats, as exports hold them), the rest as text. An
/// empty line is an empty row of the sheet.
fn xlsx(t: &str) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    // A fixed creation date, so that the bytes do not change from run to run.
    let fixed = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 1, 31).expect("date");
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&fixed));
    let ws = wb.add_worksheet();
    ws.set_name("Sales").expect("sheet name");
    for (r, line) in t.lines().enumerate() {
        let record = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes()).records().next();
        let Some(Ok(record)) = record else { continue };
        for (c, cell) in record.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let at = (r as u32, c as u16);
            // Scientific notation stays text: it stands for an ISRC an editor already mangled.
            let plain = !cell.contains(['e', 'E']) && (!cell.starts_with('0') || cell.starts_with("0.") || cell == "0");
            match cell.parse::<f64>() {
                Ok(v) if plain => ws.write_number(at.0, at.1, v).map(|_| ()),
                _ => ws.write_string(at.0, at.1, cell).map(|_| ()),
            }
            .expect("cell");
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

fn row(text: &str, out: Out) -> (String, Out) {
    (text.to_string(), out)
}

fn good(n: u32) -> (String, Out) {
    const ROWS: [(&str, &str, &str, &str); 4] = [
        ("2024-01,Spotify,US,GBABC2400001,1000,3.1234567890,USD", "1000", "3.1234567890", "USD"),
        ("2024-01,Apple Music,GB,GBABC2400002,200,1.50,USD", "200", "1.50", "USD"),
        ("2024-02,Deezer,FR,GBABC2400001,50,0.20,EUR", "50", "0.20", "EUR"),
        ("2024-02,Tidal,DE,GBABC2400002,7,0.0912,EUR", "7", "0.0912", "EUR"),
    ];
    let (t, u, n_, c) = ROWS[n as usize % 4];
    (t.to_string(), Out::Line(u, n_, c))
}

/// Title rows and an empty row before the header, two lines, and a total row that agrees
/// (as a CSV and as a workbook).
fn preamble_and_total() -> Vec<(String, Out)> {
    vec![
        row("TuneStream sales report", Out::Skip),
        row("Period: January 2024", Out::Skip),
        row("", Out::Skip),
        row(HEADER, Out::Skip),
        good(0),
        good(1),
        row("Total,,,,1200,4.6234567890,USD", Out::Skip),
    ]
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "preamble_and_total.csv",
            note: "three preamble rows before the header; a total row that agrees with the lines",
            rows: preamble_and_total(),
            control_ok: Some(true),
            encode: utf8,
        },
        Case {
            file: "total_disagrees.csv",
            note: "a total row that does not match the imported lines",
            rows: vec![row(HEADER, Out::Skip), good(0), good(1), row("Total,,,,1200,4.70,USD", Out::Skip)],
            control_ok: Some(false),
            encode: utf8,
        },
        Case {
            file: "repeated_header.csv",
            note: "the header repeated where two exports were joined",
            rows: vec![row(HEADER, Out::Skip), good(0), good(2), row(HEADER, Out::Skip), good(1), good(3)],
            control_ok: None,
            encode: utf8,
        },
        Case {
            file: "blank_and_ragged.csv",
            note: "blank rows, an all-empty row, a short row and a row with a surplus field",
            rows: vec![
                row(HEADER, Out::Skip),
                good(0),
                row("", Out::Skip),
                row(",,,,,,", Out::Skip),
                row("2024-01,Apple Music,GB,GBABC2400002,200", Out::Reject("required currency is missing")),
                row("2024-01,Apple Music,GB,GBABC2400002,200,1.50,USD,surprise", Out::Reject("")),
                good(2),
            ],
            control_ok: None,
            encode: utf8,
        },
        Case {
            file: "broken_cells.csv",
            note: "numbers that are not numbers, an ISRC mangled into scientific notation",
            rows: vec![
                row(HEADER, Out::Skip),
                row("2024-01,Spotify,US,GBABC2400001,10,12.3.4,USD", Out::Reject("")),
                row("2024-01,Spotify,US,1.23E+11,10,1.00,USD", Out::Reject("scientific notation")),
                row("2024-01,Spotify,US,GBABC2400001,10,1.00,XXY", Out::Reject("not an ISO 4217 currency")),
                good(1),
            ],
            control_ok: None,
            encode: utf8,
        },
        Case {
            file: "negatives.csv",
            note: "negative amounts written four ways",
            rows: vec![
                row(HEADER, Out::Skip),
                row("2024-01,Spotify,US,GBABC2400001,1,(1.23),USD", Out::Line("1", "-1.23", "USD")),
                row("2024-01,Spotify,US,GBABC2400001,1,1.23-,USD", Out::Line("1", "-1.23", "USD")),
                row("2024-01,Spotify,US,GBABC2400001,1,\u{2212}1.23,USD", Out::Line("1", "-1.23", "USD")),
                row("2024-01,Spotify,US,GBABC2400001,-1,-1.23,USD", Out::Line("-1", "-1.23", "USD")),
            ],
            control_ok: None,
            encode: utf8,
        },
        Case {
            file: "utf16le.csv",
            note: "UTF-16 little-endian with a byte-order mark",
            rows: vec![row(HEADER, Out::Skip), good(0), good(1), good(2)],
            control_ok: None,
            encode: utf16le,
        },
        Case {
            file: "windows1252.csv",
            note: "Windows-1252 bytes (accented store name)",
            rows: vec![row(HEADER, Out::Skip), row("2024-03,Música Já,BR,GBABC2400001,3,0.03,USD", Out::Line("3", "0.03", "USD")), good(1)],
            control_ok: None,
            encode: windows1252,
        },
        Case {
            file: "crlf_quoted_newline.csv",
            note: "CRLF line ends and a quoted field holding a line break",
            rows: vec![
                row(HEADER, Out::Skip),
                row("2024-01,\"Spotify", Out::Line("1000", "3.1234567890", "USD")),
                row("Premium\",US,GBABC2400001,1000,3.1234567890,USD", Out::Skip),
                good(1),
            ],
            control_ok: None,
            encode: crlf,
        },
        Case {
            file: "cut_short.csv",
            note: "the file ends inside a quoted field",
            rows: vec![row(HEADER, Out::Skip), good(0), good(1), row("2024-01,\"Apple", Out::Reject("cut short"))],
            control_ok: None,
            encode: |t| t.trim_end_matches('\n').as_bytes().to_vec(),
        },
        Case {
            file: "report.csv.gz",
            note: "gzip container",
            rows: vec![row(HEADER, Out::Skip), good(0), good(1), good(2), good(3)],
            control_ok: None,
            encode: gzip,
        },
        Case {
            file: "workbook_preamble_total.xlsx",
            note: "a workbook: title rows and an empty row before the header, amounts as Excel numbers, a total row that agrees",
            rows: preamble_and_total(),
            control_ok: Some(true),
            encode: xlsx,
        },
        Case {
            file: "workbook_text_cells.xlsx",
            note: "a workbook with numbers stored as text (one with a thousands separator), a bad number and a mangled ISRC",
            rows: vec![
                row(HEADER, Out::Skip),
                row("2024-01,Spotify,US,GBABC2400001,\"1,000\",3.1234567890,USD", Out::Line("1000", "3.1234567890", "USD")),
                row("2024-01,Spotify,US,GBABC2400001,10,12.3.4,USD", Out::Reject("")),
                row("2024-01,Spotify,US,1.23E+11,10,1.00,USD", Out::Reject("scientific notation")),
                good(2),
            ],
            control_ok: None,
            encode: xlsx,
        },
        Case {
            file: "reports.zip",
            note: "zip container with one report in a folder",
            rows: vec![row(HEADER, Out::Skip), good(3), good(2)],
            control_ok: None,
            encode: zipped,
        },
    ]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut expected = Vec::new();
    for case in cases() {
        let text: String = case.rows.iter().map(|(t, _)| format!("{t}\n")).collect();
        std::fs::write(dir.join(case.file), (case.encode)(&text)).expect("write");
        let mut totals: std::collections::BTreeMap<&str, (Decimal, Decimal)> = Default::default();
        let (mut imported, mut rejected, mut skipped) = (0, 0, 0);
        let mut rejects = Vec::new();
        for (i, (_, out)) in case.rows.iter().enumerate() {
            match out {
                Out::Line(u, n, c) => {
                    imported += 1;
                    let t = totals.entry(c).or_default();
                    t.0 += Decimal::from_str(u).expect("units");
                    t.1 += Decimal::from_str(n).expect("net");
                }
                Out::Reject(why) => {
                    rejected += 1;
                    rejects.push(json!({ "row": i + 1, "reason_contains": why }));
                }
                Out::Skip => skipped += 1,
            }
        }
        // A quoted line break makes two physical lines one record: the second is no row.
        let continuation = case.rows.iter().filter(|(t, o)| matches!(o, Out::Skip) && t.starts_with("Premium\"")).count();
        let file = if case.file == "reports.zip" { "reports.zip!inner/report.csv".to_string() } else { case.file.to_string() };
        expected.push(json!({
            "file": file,
            "path": case.file,
            "note": case.note,
            "rows_read": imported + rejected + skipped - continuation,
            "rows_imported": imported,
            "rows_rejected": rejected,
            "rows_nondata": skipped - continuation,
            "rejects": rejects,
            "totals": totals.iter().map(|(c, (u, n))| (c.to_string(), json!({ "units": u.to_string(), "net": n.to_string() }))).collect::<serde_json::Map<String, Value>>(),
            "control_totals_ok": case.control_ok,
        }));
    }
    let text = serde_json::to_string_pretty(&Value::Array(expected)).expect("json");
    std::fs::write(dir.join("expected.json"), format!("{text}\n")).expect("write");
    println!("wrote {}", dir.display());
}
