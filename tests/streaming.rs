//! The streaming importer against the in-memory one, on generated sales files full of
//! quirks (quoted newlines, blank lines, repeated headers, totals, bad numbers, thousands
//! separators, unknown territories, wide rows, a cut last line), read in tiny chunks so that
//! rows straddle chunk ends: same rows read, same rejects and non-data rows, same control
//! checks; every row kept as is without roll-up, and with roll-up the same sums per key.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use royalty_audit::import::{FileImport, ImportOptions, RollUp, TerritoryGroups, import_bytes, import_path, load_profiles};
use royalty_audit::ledger::{LedgerLine, LineFlag, SourceRef, StatementKind};
use rust_decimal::Decimal;

const HEADER: &str = "Sales Period,Store,Offering,Territory,ISRC,UPC,Track Title,Artist,Sale Type,Quantity,Gross Revenue,Net Revenue,Currency";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// A DSP report of `rows` rows from `seed`, with every fifth row of some quirk.
fn report(seed: u64, rows: usize, cut: bool) -> String {
    let mut r = Rng(seed | 1);
    let mut out = format!("Sales report\n\n{HEADER}\n");
    for i in 0..rows {
        let month = r.next() % 3 + 1;
        let store = r.pick(&["Spotify", "spotify", "Apple Music", "Deezer"]);
        let territory = r.pick(&["US", "GB", "DE", "FR", "us"]);
        let isrc = r.pick(&["GBBEN2400001", "GBBEN2400002", "GB-BEN-24-00003"]);
        let units = r.next() % 50 + 1;
        let net = format!("{}.{:04}", r.next() % 20, r.next() % 10_000);
        let title = r.pick(&["Song", "Other Song", "\"Song, live\"", "\"Two\nlines\""]);
        let mut row = format!("2024-{month:02},{store},Premium,{territory},{isrc},,{title},Bench,Stream,{units},,{net},USD");
        if r.next().is_multiple_of(5) {
            row = match r.next() % 11 {
                0 => String::new(),
                1 => HEADER.to_string(),
                2 => format!("2024-{month:02},{store},Premium,Atlantis,{isrc},,Song,Bench,Stream,{units},,{net},USD"),
                3 => format!("2024-{month:02},{store},Premium,{territory},{isrc},,Song,Bench,Stream,{units},,abc,USD"),
                4 => format!("2024-{month:02},{store},Premium,{territory},{isrc},,Song,Bench,Stream,{units},,\"1,234.5\",USD"),
                5 => format!("2024-{month:02},{store},Premium,,{isrc},,Song,Bench,Stream,{units},,-{net},USD"),
                6 => format!("2024-{month:02},{store},Premium,{territory},{isrc},,Song,Bench,Stream,{units},,{net},USD,extra"),
                7 => format!("2024-{month:02},{store},Premium,{territory},1.23E+11,,Song,Bench,Stream,{units},,{net},USD"),
                8 => format!("2024-{month:02},{store},Premium,{territory},{isrc},,Total,Bench,Stream,{units},,{net},USD"),
                9 => format!("2024-{month:02},{store},Premium,{territory},{isrc},,Song,Bench,Stream,{units},,{net},XXX"),
                _ => format!("2024-{month:02},{store},Premium,{territory},{isrc},,Song,Bench,Stream,{units}.5,,{net}.,USD"),
            };
        }
        out.push_str(&row);
        out.push('\n');
        if i % 97 == 96 {
            out.push_str("\n\n");
        }
    }
    out.push_str(",Total,,,,,,,,,,,\n");
    if cut {
        out.push_str("2024-01,Spotify,Premium,US,GBBEN2400001,,Song,Bench,Stream,3,,1.5");
    }
    out
}

fn groups() -> TerritoryGroups {
    TerritoryGroups { of: [("US".to_string(), "home".to_string()), ("GB".to_string(), "home".to_string())].into_iter().collect(), default: "rest_of_world".into() }
}

fn options(roll: bool) -> ImportOptions {
    let mut o = ImportOptions::new(load_profiles(None).unwrap(), None);
    o.stream_over = 0;
    o.chunk_bytes = 300;
    if roll {
        o.roll_up = Some(RollUp { kinds: vec![StatementKind::Dsp, StatementKind::Distributor], territory_groups: Some(groups()) });
    }
    o
}

fn streamed(text: &str, roll: bool) -> FileImport {
    streamed_bytes(text.as_bytes(), roll)
}

fn streamed_bytes(bytes: &[u8], roll: bool) -> FileImport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    std::fs::write(&path, bytes).unwrap();
    let mut v = import_path(&path, &options(roll)).unwrap();
    assert_eq!(v.len(), 1);
    let mut f = v.remove(0);
    // Same names on both sides.
    let name = path.display().to_string();
    assert_eq!(f.file, name);
    f.file = "report.csv".into();
    for l in &mut f.lines {
        l.source.file = "report.csv".into();
    }
    for r in &mut f.rejects {
        r.source.file = "report.csv".into();
    }
    for n in &mut f.nondata {
        n.source.file = "report.csv".into();
    }
    for c in &mut f.controls {
        c.source.file = "report.csv".into();
    }
    f
}

fn in_memory(text: &str) -> FileImport {
    let o = ImportOptions::new(load_profiles(None).unwrap(), None);
    import_bytes("report.csv", text.as_bytes().to_vec(), &o).unwrap().remove(0)
}

/// A line's key for roll-up comparisons: every field but money, descriptive texts, source.
fn key(l: &LedgerLine) -> String {
    let mut k = l.clone();
    k.source = SourceRef::new("", None, 0);
    k.rows = 1;
    (k.units, k.gross, k.fees, k.taxes, k.net, k.royalty, k.amount) = (None, None, None, None, None, None, None);
    (k.title, k.artist) = (None, None);
    let mut details = k.details().clone();
    (details.free_units, details.original_amount) = (None, None);
    (details.release_title, details.description, details.reference) = (None, None, None);
    k.set_details(details);
    if k.territory_group.is_none() && !k.flags.iter().any(|f| matches!(f, LineFlag::UnknownTerritory(_))) {
        k.territory_group = Some(groups().group(k.territory.as_ref()).into());
        k.territory = None;
    }
    format!("{k:?}")
}

type Sums = BTreeMap<String, (u64, Vec<Option<Decimal>>)>;

fn sums(lines: &[LedgerLine]) -> Sums {
    let mut out: Sums = BTreeMap::new();
    for l in lines {
        let e = out.entry(key(l)).or_insert_with(|| (0, vec![None; 4]));
        e.0 += l.rows;
        for (slot, v) in e.1.iter_mut().zip([l.units, l.gross, l.net, l.royalty]) {
            if let Some(v) = v {
                *slot = Some(slot.unwrap_or_default() + v);
            }
        }
    }
    out
}

fn same_bookkeeping(a: &FileImport, b: &FileImport) {
    assert_eq!(a.rows_read, b.rows_read);
    assert!(a.rows_balance() && b.rows_balance());
    assert_eq!(a.rows_imported(), b.rows_imported());
    assert_eq!(a.rejects, b.rejects);
    assert_eq!(a.nondata, b.nondata);
    assert_eq!(a.controls, b.controls);
    assert_eq!(a.totals().keys().collect::<Vec<_>>(), b.totals().keys().collect::<Vec<_>>());
    for (x, y) in a.totals().values().zip(b.totals().values()) {
        assert_eq!((x.units, x.gross, x.net, x.royalty, x.amount), (y.units, y.gross, y.net, y.royalty, y.amount));
    }
}

#[test]
fn a_report_streams_like_it_reads_in_memory() {
    let text = report(7, 400, true);
    let memory = in_memory(&text);
    assert!(!memory.rejects.is_empty() && memory.nondata.len() > 5, "{} {} {} {}", memory.profile, memory.rejects.len(), memory.nondata.len(), memory.controls.len());
    let lines = streamed(&text, false);
    same_bookkeeping(&memory, &lines);
    assert_eq!(memory.lines, lines.lines);
    let rolled = streamed(&text, true);
    same_bookkeeping(&memory, &rolled);
    assert!(rolled.lines.len() < memory.lines.len() / 4, "{} of {}", rolled.lines.len(), memory.lines.len());
    assert_eq!(sums(&memory.lines), sums(&rolled.lines));
}

/// Nor on whether the file is mapped into memory or read into buffers (chunks cut alike,
/// quoted fields over line ends and a last line without its line end included).
#[test]
fn the_streamed_ledger_does_not_depend_on_the_chunk_size() {
    for cut in [false, true] {
        let text = report(11, 300, cut);
        let mut o = options(true);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, &text).unwrap();
        o.map_files = false;
        let reference = import_path(&path, &o).unwrap().remove(0);
        assert!(reference.lines.len() > 10 && !reference.rejects.is_empty());
        for chunk in [1, 57, 4096, 1 << 22] {
            for map_files in [false, true] {
                o.chunk_bytes = chunk;
                o.map_files = map_files;
                let f = import_path(&path, &o).unwrap().remove(0);
                assert_eq!(f.lines, reference.lines, "chunk {chunk}, mapped {map_files}");
                assert_eq!(f.rejects, reference.rejects);
                same_bookkeeping(&reference, &f);
            }
        }
    }
}

#[test]
fn gzip_streams_too() {
    use std::io::Write;
    let text = report(3, 200, false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
    let f = import_path(Path::new(&path), &options(true)).unwrap().remove(0);
    assert_eq!(sums(&f.lines), sums(&in_memory(&text).lines));
    assert!(f.rows_balance());
}

/// UTF-16 is decoded as it is read; UTF-8 is checked by the workers, chunk by chunk: BOMs
/// of concatenated exports removed and counted, bytes that are not UTF-8 replaced.
#[test]
fn encodings_stream_like_they_read_in_memory() {
    let text = report(5, 150, false);
    let second = report(6, 40, false);
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let concatenated = format!("\u{feff}{text}\u{feff}{}", second.lines().skip(3).collect::<Vec<_>>().join("\n"));
    for (what, bytes) in [("utf-16le", utf16), ("utf-8, BOM repeated", concatenated.into_bytes())] {
        let o = ImportOptions::new(load_profiles(None).unwrap(), None);
        let memory = import_bytes("report.csv", bytes.clone(), &o).unwrap().remove(0);
        for roll in [false, true] {
            let f = streamed_bytes(&bytes, roll);
            same_bookkeeping(&memory, &f);
            if roll {
                assert_eq!(sums(&memory.lines), sums(&f.lines), "{what}");
            } else {
                assert_eq!(memory.lines, f.lines, "{what}");
            }
            let bom_notes = |f: &FileImport| f.notes.iter().filter(|n| n.contains("byte-order mark")).cloned().collect::<Vec<_>>();
            assert_eq!(bom_notes(&f), bom_notes(&memory), "{what}");
        }
    }
    // A byte that is not UTF-8 after the first megabyte (the encoding is told from the
    // start of the file): replaced, and the row kept.
    let mut long = report(9, 14_000, false).into_bytes();
    assert!(long.len() > 1 << 20);
    let at = long.len() - 200 + memchr::memmem::find(&long[long.len() - 200..], b"Bench").unwrap();
    long[at] = 0xFF;
    let f = streamed_bytes(&long, false);
    assert!(f.rows_balance());
    assert!(f.lines.iter().any(|l| l.artist.as_deref().is_some_and(|a| a.contains('\u{fffd}'))));
}

/// Plain rows are summed exactly in integers; a sum that would outgrow what a Decimal holds
/// sends its row through the full reader, which adds it with Decimal arithmetic: no row is
/// lost and the sums are those of the in-memory path.
#[test]
fn sums_too_large_for_the_fast_path_are_added_as_decimals() {
    let row = |net: &str| format!("2024-01,Spotify,Premium,US,GBBEN2400001,,Song,Bench,Stream,1,,{net},USD\n");
    let text = format!("{HEADER}\n{}{}{}{}", row("9223372036854775807"), row("0.000000000000000001"), row("9223372036854775807"), row("2.5"));
    let memory = in_memory(&text);
    let rolled = streamed(&text, true);
    same_bookkeeping(&memory, &rolled);
    assert_eq!(rolled.lines.len(), 1);
    assert_eq!(rolled.lines[0].rows, 4);
    assert_eq!(sums(&memory.lines), sums(&rolled.lines));
    assert!(rolled.lines[0].net.unwrap() > Decimal::from(18_446_744_073_709_551_616u128), "{:?}", rolled.lines[0].net);
}

/// `text` streamed with roll-up, in one chunk.
fn rolled_in_one_chunk(text: &str) -> FileImport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    std::fs::write(&path, text).unwrap();
    let mut o = options(true);
    o.chunk_bytes = 1 << 20;
    import_path(&path, &o).unwrap().remove(0)
}

/// A key cell that reads as a total label, in a row where other cells come first (so the row
/// is data), and in later rows of the same key where it is among the first three non-empty
/// cells (so those rows are totals): the roll-up sends the key's rows to the full reader.
#[test]
fn a_label_in_a_key_cell_classifies_the_later_rows_of_its_key() {
    let mut text = format!("{HEADER}\n");
    // (US and GB are one territory group: one key.)
    text += ",,,US,GBBEN2400001,,Song,Bench,Total,3,,1.50,USD\n";
    // (A blank row: the rows after it are probed after the first row's line is in.)
    text += "\n";
    text += ",,,GB,GBBEN2400001,,Song,Bench,Total,4,,2.00,USD\n";
    text += ",,,GB,GBBEN2400001,,,,Total,7,,3.50,USD\n";
    text += "2024-01,Spotify,Premium,US,GBBEN2400002,,Song,Bench,Stream,1,,1.00,USD\n";
    text += "2024-01,Spotify,Premium,GB,GBBEN2400002,,Song,Bench,Stream,2,,2.00,USD\n";
    let memory = in_memory(&text);
    assert_eq!(memory.nondata.iter().map(|n| (n.source.row, n.reason.as_str())).collect::<Vec<_>>(), [(1, "header"), (3, "blank row"), (5, "total row")]);
    // One chunk: the key's first row is rolled up before its later rows are probed.
    let rolled = rolled_in_one_chunk(&text);
    assert_eq!(rolled.nondata.iter().map(|n| (n.source.row, n.reason.as_str())).collect::<Vec<_>>(), [(1, "header"), (3, "blank row"), (5, "total row")]);
    assert_eq!(sums(&memory.lines), sums(&rolled.lines));
    assert_eq!(rolled.lines.iter().map(|l| l.rows).collect::<Vec<_>>(), [2, 2]);
}

/// Key cells holding control characters (here U+001F, which had separated key cells in the
/// key's bytes) or the delimiter (quoted) do not make two different keys one:
/// "Spotify\u{1f}" + "Premium" and "Spotify" + "\u{1f}Premium" stay two lines.
#[test]
fn key_cells_that_hold_separators_stay_apart() {
    let mut text = format!("{HEADER}\n");
    text += "2024-01,Spotify\u{1f},Premium,US,GBBEN2400001,,Song,Bench,Stream,1,,1.00,USD\n";
    text += "2024-01,Spotify,\u{1f}Premium,US,GBBEN2400001,,Song,Bench,Stream,2,,2.00,USD\n";
    text += "2024-01,Spotify\u{1f},Premium,US,GBBEN2400001,,Song,Bench,Stream,4,,4.00,USD\n";
    text += "2024-01,Spotify,\u{1f}Premium,US,GBBEN2400001,,Song,Bench,Stream,8,,8.00,USD\n";
    // Quoted key cells holding the delimiter: "Spotify,X" + "Premium" and "Spotify" +
    // "X,Premium" are two keys too.
    text += "2024-01,\"Spotify,X\",Premium,US,GBBEN2400001,,Song,Bench,Stream,16,,16.00,USD\n";
    text += "2024-01,Spotify,\"X,Premium\",US,GBBEN2400001,,Song,Bench,Stream,32,,32.00,USD\n";
    text += "2024-01,\"Spotify,X\",Premium,US,GBBEN2400001,,Song,Bench,Stream,64,,64.00,USD\n";
    text += "2024-01,Spotify,\"X,Premium\",US,GBBEN2400001,,Song,Bench,Stream,128,,128.00,USD\n";
    let memory = in_memory(&text);
    let rolled = rolled_in_one_chunk(&text);
    assert_eq!(sums(&memory.lines), sums(&rolled.lines));
    let units = |n: i64| Some(Decimal::from(n));
    assert_eq!(rolled.lines.iter().map(|l| (l.rows, l.units)).collect::<Vec<_>>(), [(2, units(5)), (2, units(10)), (2, units(80)), (2, units(160))]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_report_streams_like_it_reads_in_memory(seed in any::<u64>(), rows in 1usize..250, cut in any::<bool>()) {
        let text = report(seed, rows, cut);
        let memory = in_memory(&text);
        let lines = streamed(&text, false);
        same_bookkeeping(&memory, &lines);
        prop_assert_eq!(&memory.lines, &lines.lines);
        let rolled = streamed(&text, true);
        same_bookkeeping(&memory, &rolled);
        prop_assert_eq!(sums(&memory.lines), sums(&rolled.lines));
    }
}

/// Subtotals and totals in a multi-currency file: each section is checked against its own
/// rows (and currencies), streamed or not.
#[test]
fn subtotals_cover_their_own_section_when_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    let generic = std::fs::read_to_string("rules/statements/generic-dsp.toml").unwrap();
    let controlled = generic
        .replace("name = \"generic-dsp\"", "name = \"controlled-dsp\"")
        .replace("priority = 0", "priority = 5")
        .replace("[rows]\n", "[rows]\ncontrol_fields = [\"net\", \"units\"]\n");
    std::fs::write(profiles.join("controlled.toml"), controlled).unwrap();
    let row = |cur: &str, units: u32, net: &str| format!("2024-01,Spotify,Premium,US,GBBEN2400001,,Song,Bench,Stream,{units},,{net},{cur}\n");
    let mut text = format!("{HEADER}\n");
    for i in 0..40 {
        text += &row(if i % 2 == 0 { "USD" } else { "EUR" }, i + 1, "1.25");
    }
    text += ",Subtotal,,,,,,,,,,25.00,EUR\n";
    for i in 0..40 {
        text += &row("USD", i + 1, "0.50");
    }
    text += ",Subtotal,,,,,,,,,,20.00,\n,Total,,,,,,,,,,45.00,USD\n";
    let memory = {
        let o = ImportOptions::new(load_profiles(Some(&profiles)).unwrap(), None);
        import_bytes("report.csv", text.clone().into_bytes(), &o).unwrap().remove(0)
    };
    assert_eq!(memory.profile, "controlled-dsp");
    assert!(memory.controls.iter().filter(|c| c.field == "net").all(|c| c.ok == Some(true)), "{:?}", memory.controls);
    for roll in [false, true] {
        let path = dir.path().join("report.csv");
        std::fs::write(&path, &text).unwrap();
        let mut o = options(roll);
        o.profiles = load_profiles(Some(&profiles)).unwrap();
        let mut f = import_path(&path, &o).unwrap().remove(0);
        for c in &mut f.controls {
            c.source.file = "report.csv".into();
        }
        assert_eq!(f.controls, memory.controls, "roll-up {roll}");
    }
}

/// Collects what a sink receives, to compare with the lines an import keeps.
struct Collect(std::sync::Arc<std::sync::Mutex<Vec<LedgerLine>>>);

impl royalty_audit::import::LineSink for Collect {
    fn write(&mut self, lines: &[LedgerLine]) -> Result<(), String> {
        self.0.lock().unwrap().extend_from_slice(lines);
        Ok(())
    }
}

#[test]
fn a_sink_receives_the_ledger_in_row_order_and_the_import_keeps_only_counts() {
    let text = report(23, 500, true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, &text).unwrap();
    for chunk in [1, 300, 1 << 22] {
        let mut o = options(false);
        o.chunk_bytes = chunk;
        let kept = import_path(&path, &o).unwrap().remove(0);
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        o.sink = Some(royalty_audit::import::SharedSink::new(Collect(got.clone())));
        let spilled = import_path(&path, &o).unwrap().remove(0);
        assert!(spilled.lines.is_empty(), "chunk {chunk}: lines went to the sink");
        assert_eq!(*got.lock().unwrap(), kept.lines, "chunk {chunk}: same lines, same order");
        assert_eq!(spilled.line_count(), kept.lines.len() as u64);
        assert_eq!(spilled.rows_imported(), kept.rows_imported());
        assert!(spilled.rows_balance());
        same_bookkeeping(&kept, &spilled);
    }
}

#[test]
fn a_failing_sink_stops_the_import_with_its_reason() {
    struct Full;
    impl royalty_audit::import::LineSink for Full {
        fn write(&mut self, _: &[LedgerLine]) -> Result<(), String> {
            Err("disk full".into())
        }
    }
    let text = report(5, 200, false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, &text).unwrap();
    let mut o = options(false);
    o.sink = Some(royalty_audit::import::SharedSink::new(Full));
    let err = import_path(&path, &o).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
}
