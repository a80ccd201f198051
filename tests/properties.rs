//! Property tests of the importer's invariants: exact decimal round trips, row and money
//! conservation, order independence, idempotence, and no panic on arbitrary input.

use std::str::FromStr;

use proptest::prelude::*;
use royalty_audit::import::cells::{NumberFormat, parse_decimal};
use royalty_audit::import::{FileImport, ImportOptions, import_bytes, load_profiles};
use royalty_audit::ledger::LedgerLine;
use rust_decimal::Decimal;

fn opts() -> &'static ImportOptions {
    static OPTS: std::sync::LazyLock<ImportOptions> =
        std::sync::LazyLock::new(|| ImportOptions::new(load_profiles(None).unwrap(), None));
    &OPTS
}

fn import(name: &str, text: &str) -> FileImport {
    import_bytes(name, text.as_bytes().to_vec(), opts()).unwrap().remove(0)
}

/// Ledger lines without their source, sorted: what must not depend on row or file order.
fn sorted_values(lines: &[LedgerLine]) -> Vec<String> {
    let mut v: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.source = royalty_audit::ledger::SourceRef::new("", None, 0);
            format!("{l:?}")
        })
        .collect();
    v.sort();
    v
}

fn group_thousands(int: &str, sep: char) -> String {
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=18).prop_map(|(m, s)| Decimal::new(m, s))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn decimal_notations_round_trip(d in decimal(), style in 0u8..6) {
        let plain = d.abs().to_string();
        let (int, frac) = plain.split_once('.').map_or((plain.as_str(), None), |(i, f)| (i, Some(f)));
        let neg = d.is_sign_negative() && !d.is_zero();
        let text = match style {
            0 => d.to_string(),
            1 => {
                let body = format!("{}{}", group_thousands(int, ','), frac.map(|f| format!(".{f}")).unwrap_or_default());
                if neg { format!("({body})") } else { body }
            }
            2 => {
                let body = format!("{}{}", group_thousands(int, '.'), frac.map(|f| format!(",{f}")).unwrap_or_default());
                if neg { format!("{body}-") } else { body }
            }
            3 => format!("{}{}", if neg { "\u{2212}" } else { "" }, plain),
            4 => format!("{}${}", if neg { "-" } else { "" }, plain),
            _ => format!("{}{} €", if neg { "-" } else { "" }, plain.replace('.', ",")),
        };
        let fmt = NumberFormat { decimal: if style == 2 || style == 5 { ',' } else { '.' } };
        let parsed = parse_decimal(&text, fmt).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, d, "{}", text);
    }

    #[test]
    fn cell_parser_never_panics(s in ".{0,40}") {
        let _ = parse_decimal(&s, NumberFormat::default());
        let _ = parse_decimal(&s, NumberFormat { decimal: ',' });
        let _ = royalty_audit::import::cells::parse_period(&s, None);
        let _ = royalty_audit::import::cells::parse_date(&s, Some("%d/%m/%Y"));
    }

    #[test]
    fn readers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = import_bytes("x.csv", bytes.clone(), opts());
        let _ = import_bytes("DSR_x_1of1_y.tsv", bytes.clone(), opts());
        let _ = import_bytes("x.xlsx", bytes, opts());
    }
}

/// One generated data row: valid, or broken in one of several ways.
#[derive(Debug, Clone)]
enum GenRow {
    Good { month: u32, store: usize, units: u32, net: Decimal, currency: usize },
    BadDate { net: Decimal },
    BadNumber,
    Blank,
}

fn gen_row() -> impl Strategy<Value = GenRow> {
    prop_oneof![
        6 => (1u32..=12, 0usize..4, 0u32..100_000, (-10_000i64..1_000_000, 0u32..=10), 0usize..2)
            .prop_map(|(month, store, units, (m, s), currency)| GenRow::Good { month, store, units, net: Decimal::new(m, s), currency }),
        1 => (0i64..100_000, 0u32..=4).prop_map(|(m, s)| GenRow::BadDate { net: Decimal::new(m, s) }),
        1 => Just(GenRow::BadNumber),
        1 => Just(GenRow::Blank),
    ]
}

const STORES: [&str; 4] = ["Spotify", "Apple Music", "Deezer", "Tidal"];
const CURRENCIES: [&str; 2] = ["USD", "EUR"];

fn render(rows: &[GenRow]) -> String {
    let mut s = String::from("Sales Period,Store,Territory,ISRC,Quantity,Net Revenue,Currency\n");
    for r in rows {
        match r {
            GenRow::Good { month, store, units, net, currency } => s.push_str(&format!(
                "2024-{month:02},{},US,GBABC2400001,{units},{net},{}\n",
                STORES[*store], CURRENCIES[*currency]
            )),
            GenRow::BadDate { net } => s.push_str(&format!("sometime,Spotify,US,GBABC2400001,1,{net},USD\n")),
            GenRow::BadNumber => s.push_str("2024-01,Spotify,US,GBABC2400001,1,12.3.4,USD\n"),
            GenRow::Blank => s.push('\n'),
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn rows_and_money_are_conserved(rows in proptest::collection::vec(gen_row(), 0..60)) {
        let f = import("gen.csv", &render(&rows));
        prop_assert!(f.rows_balance());
        prop_assert_eq!(f.rows_read, rows.len() as u64 + 1);
        let good = rows.iter().filter(|r| matches!(r, GenRow::Good { .. })).count();
        let bad = rows.iter().filter(|r| matches!(r, GenRow::BadDate { .. } | GenRow::BadNumber)).count();
        prop_assert_eq!(f.lines.len(), good);
        prop_assert_eq!(f.rejects.len(), bad);
        // Per currency: imported + rejected-but-parsed = everything the file holds.
        for (ci, code) in CURRENCIES.iter().enumerate() {
            let mut expected = Decimal::ZERO;
            for r in &rows {
                match r {
                    GenRow::Good { net, currency, .. } if *currency == ci => expected += *net,
                    GenRow::BadDate { net } if ci == 0 => expected += *net,
                    _ => {}
                }
            }
            let imported: Decimal = f.lines.iter().filter(|l| l.currency.code() == *code).filter_map(|l| l.net).sum();
            let rejected: Decimal = f.rejected_totals().iter().filter(|(c, _)| c.code() == *code).filter_map(|(_, m)| m.get("net")).sum();
            prop_assert_eq!(imported + rejected, expected, "{}", code);
        }
    }

    #[test]
    fn row_order_does_not_change_the_ledger(rows in proptest::collection::vec(gen_row(), 1..40), seed in any::<u64>()) {
        let mut shuffled = rows.clone();
        // Deterministic Fisher-Yates from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a = import("a.csv", &render(&rows));
        let b = import("a.csv", &render(&shuffled));
        prop_assert_eq!(sorted_values(&a.lines), sorted_values(&b.lines));
        prop_assert_eq!(a.totals(), b.totals());
    }

    #[test]
    fn importing_twice_is_identical(rows in proptest::collection::vec(gen_row(), 0..40)) {
        let text = render(&rows);
        prop_assert_eq!(import("a.csv", &text), import("a.csv", &text));
    }
}

#[test]
fn file_order_does_not_change_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let a = fixtures.join("distrokid_2024-04.tsv");
    let b = fixtures.join("tunecore_sales_2024-02.csv");
    let (x, _) = royalty_audit::import::import_paths(&[a.clone(), b.clone()], opts());
    let (y, _) = royalty_audit::import::import_paths(&[b, a], opts());
    let lines = |v: &[FileImport]| sorted_values(&v.iter().flat_map(|f| f.lines.clone()).collect::<Vec<_>>());
    assert_eq!(lines(&x), lines(&y));
    assert_eq!(lines(&x).len(), 14);
    drop(dir);
}

#[test]
fn decimal_exactness_beyond_ten_places() {
    let d = parse_decimal("0.12345678901234567890", NumberFormat::default()).unwrap();
    assert_eq!(d, Decimal::from_str("0.12345678901234567890").unwrap());
}

/// The same rows written as `variant` (encoding × delimiter × container) and imported.
fn import_variant(rows: &[GenRow], delimiter: char, encoding: u8, container: u8) -> Vec<String> {
    let text = render(rows).replace(',', &delimiter.to_string());
    let bytes: Vec<u8> = match encoding {
        0 => text.into_bytes(),
        1 => [b"\xEF\xBB\xBF".to_vec(), text.into_bytes()].concat(),
        2 => {
            let mut b = vec![0xFF, 0xFE];
            b.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
            b
        }
        _ => {
            let mut b = vec![0xFE, 0xFF];
            b.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
            b
        }
    };
    use std::io::Write;
    let (name, bytes) = match container {
        0 => ("v.csv".to_string(), bytes),
        1 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&bytes).unwrap();
            ("v.csv.gz".to_string(), gz.finish().unwrap())
        }
        _ => {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            zip.start_file("v.csv", zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(&bytes).unwrap();
            ("v.zip".to_string(), zip.finish().unwrap().into_inner())
        }
    };
    let files = import_bytes(&name, bytes, opts()).unwrap();
    sorted_values(&files.iter().flat_map(|f| f.lines.clone()).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    #[test]
    fn encoding_delimiter_and_container_do_not_change_the_ledger(
        rows in proptest::collection::vec(gen_row(), 1..30),
        delimiter in prop_oneof![Just(','), Just('\t'), Just(';'), Just('|')],
        encoding in 0u8..4,
        container in 0u8..3,
    ) {
        let base = import_variant(&rows, ',', 0, 0);
        prop_assert_eq!(import_variant(&rows, delimiter, encoding, container), base);
    }

    #[test]
    fn a_truncated_file_never_changes_a_row(rows in proptest::collection::vec(gen_row(), 1..30), cut in any::<prop::sample::Index>()) {
        let text = render(&rows);
        // Cut anywhere after the header (a file cut inside its header is not recognised at all).
        let header = text.find('\n').unwrap() + 1;
        let at = header + cut.index(text.len() - header + 1);
        let full = import("t.csv", &text);
        let part = import("t.csv", &text[..at]);
        prop_assert!(part.rows_balance());
        for line in &part.lines {
            let same = full.lines.iter().find(|l| l.source.row == line.source.row);
            let mut a = line.clone();
            a.flags.retain(|f| *f != royalty_audit::ledger::LineFlag::NoLineTerminator);
            prop_assert_eq!(Some(&a), same, "row {} of a file cut at byte {}", line.source.row, at);
        }
    }
}
