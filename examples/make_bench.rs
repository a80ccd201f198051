//! Benchmark data (issue 6): a realistic DSP sales report of N rows and the label statement
//! that should account for it, with planted missing and underpaid keys.
//!
//!     cargo run --release --example make_bench -- ROWS OUT_DIR
//!
//! Writes OUT_DIR/dsp/dsp_sales.csv (8 stores × 60 territories × a catalogue of 5,000 ISRCs
//! × 12 sale months, amounts with up to 10 decimals), OUT_DIR/label/label_statement.csv (one
//! line per ISRC × store × sale month, 20% of receipts) and OUT_DIR/planted.csv (the keys
//! left out or underpaid, and by how much). Deterministic for a given ROWS.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

use rust_decimal::Decimal;

const STORES: [&str; 8] = ["Spotify", "Apple Music", "Amazon Music", "YouTube Music", "Deezer", "Tidal", "Pandora", "SoundCloud"];
const TERRITORIES: [&str; 60] = [
    "US", "GB", "DE", "FR", "JP", "AU", "NL", "IT", "CA", "ES", "SE", "NO", "DK", "FI", "BR", "MX", "AR", "CL", "CO", "PE",
    "PL", "CZ", "AT", "CH", "BE", "IE", "PT", "GR", "TR", "RU", "IN", "ID", "PH", "TH", "VN", "MY", "SG", "KR", "TW", "HK",
    "NZ", "ZA", "NG", "KE", "EG", "MA", "SA", "AE", "IL", "RO", "HU", "BG", "HR", "SK", "SI", "LT", "LV", "EE", "IS", "LU",
];
const CATALOGUE: u64 = 5000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn isrc(i: u64) -> String {
    format!("GBBEN24{:05}", i)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let out = std::path::PathBuf::from(args.get(2).cloned().unwrap_or_else(|| "bench-data".into()));
    std::fs::create_dir_all(out.join("dsp")).expect("mkdir");
    std::fs::create_dir_all(out.join("label")).expect("mkdir");
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut dsp = BufWriter::new(std::fs::File::create(out.join("dsp/dsp_sales.csv")).expect("create"));
    writeln!(dsp, "Sales Period,Store,Offering,Territory,ISRC,UPC,Track Title,Artist,Sale Type,Quantity,Gross Revenue,Net Revenue,Currency").expect("write");
    // (isrc, store, month) → (units, net)
    let mut keys: BTreeMap<(u64, usize, u32), (u64, Decimal)> = BTreeMap::new();
    for _ in 0..rows {
        let r = rng.next();
        let i = r % CATALOGUE;
        let s = ((r >> 13) % STORES.len() as u64) as usize;
        let t = ((r >> 17) % TERRITORIES.len() as u64) as usize;
        let m = ((r >> 23) % 12) as u32 + 1;
        let units = (r >> 27) % 5000 + 1;
        // A per-stream rate with 10 decimals, 0.0020000000–0.0059999999.
        let rate = Decimal::new(20_000_000 + ((r >> 40) % 40_000_000) as i64, 10);
        let net = Decimal::from(units) * rate;
        let gross = (net * Decimal::new(125, 2)).round_dp(10);
        writeln!(
            dsp,
            "2024-{m:02},{},Premium,{},{},,Track {i},Bench Artist,Stream,{units},{gross},{net},USD",
            STORES[s],
            TERRITORIES[t],
            isrc(i)
        )
        .expect("write");
        let e = keys.entry((i, s, m)).or_default();
        e.0 += units;
        e.1 += net;
    }
    dsp.flush().expect("flush");
    let mut label = BufWriter::new(std::fs::File::create(out.join("label/label_statement.csv")).expect("create"));
    writeln!(label, "Period,Account,Type,Source,Configuration,ISRC,Sale Period,Units,Receipts,Rate,Royalty,Currency").expect("write");
    let mut planted = BufWriter::new(std::fs::File::create(out.join("planted.csv")).expect("create"));
    writeln!(planted, "isrc,store,sale_period,plant,source_net,label_net").expect("write");
    for (n, ((i, s, m), (units, net))) in keys.iter().enumerate() {
        let period = if *m <= 6 { "2024-H1" } else { "2024-H2" };
        let key = format!("{},{},2024-{m:02}", isrc(*i), STORES[*s]);
        match n % 100 {
            // 1% of keys never reported.
            0 => {
                writeln!(planted, "{key},missing,{net},0").expect("write");
                continue;
            }
            // 1% reported with 10% of the receipts held back.
            1 => {
                let reported = (net * Decimal::new(9, 1)).round_dp(10);
                writeln!(planted, "{key},underpaid,{net},{reported}").expect("write");
                let royalty = (reported * Decimal::new(2, 1)).round_dp(2);
                writeln!(label, "{period},BENCH-1,Income,{},Streaming,{},2024-{m:02},{units},{reported},20,{royalty},USD", STORES[*s], isrc(*i)).expect("write");
            }
            _ => {
                let royalty = (net * Decimal::new(2, 1)).round_dp(2);
                writeln!(label, "{period},BENCH-1,Income,{},Streaming,{},2024-{m:02},{units},{net},20,{royalty},USD", STORES[*s], isrc(*i)).expect("write");
            }
        }
    }
    label.flush().expect("flush");
    planted.flush().expect("flush");
    eprintln!("{rows} DSP rows, {} keys", keys.len());
}
