//! Writes `sample-statements/`: a fictional artist's two years (2024–2025) with Harbour
//! Records — four half-yearly label statements (xlsx, with preamble and totals like real
//! ones), the distributor's 24 monthly sales reports (CSV) and YouTube's quarterly report
//! (CSV) — with known errors planted in the label statements. Deterministic: the same
//! files every run. The plants and the claim they make are in sample-statements/README.md.
//!
//!     cargo run --example make_samples
//!
//! Prints the planted amounts it computed (the README documents them).

use std::fmt::Write as _;
use std::path::Path;

use rust_decimal::prelude::*;
use rust_decimal::Decimal;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

const TRACKS: [(&str, &str); 4] = [
    ("GBHRB2400001", "Glass Harbour"),
    ("GBHRB2400002", "Low Tide"),
    ("GBHRB2400003", "Salt Lines"),
    ("GBHRB2400004", "Lantern Year"),
];
const UPC: &str = "060123456788";
const ADVANCE: Decimal = Decimal::from_parts(5000, 0, 0, false, 0);
/// Recouped at the all-in rate during 2025-H2 (see the printed cumulative test figures).
const RECORDING: Decimal = Decimal::from_parts(65000, 0, 0, false, 0);
const PRODUCER_ADVANCE: Decimal = Decimal::from_parts(2000, 0, 0, false, 0);
const HALVES: [(&str, i32, u32); 4] = [("2024-H1", 2024, 1), ("2024-H2", 2024, 7), ("2025-H1", 2025, 1), ("2025-H2", 2025, 7)];

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal literal")
}

/// Store, per-stream rate to the label (USD), reported by the label?
const STORES: [(&str, &str, bool); 3] = [("Spotify", "0.0040", true), ("Apple Music", "0.0080", true), ("Deezer", "0.0045", false)];
/// Territory, rate multiplier, contract factor (percent of the 20% streaming rate).
const TERRITORIES: [(&str, &str, &str); 4] = [("US", "1.00", "100"), ("GB", "0.90", "75"), ("DE", "0.85", "75"), ("BR", "0.30", "50")];

struct Sale {
    month: (i32, u32),
    store: &'static str,
    territory: &'static str,
    factor: Decimal,
    track: usize,
    units: Decimal,
    net: Decimal,
}

/// A small deterministic generator (no randomness crate: the sequence must never change).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo + 1)
    }
}

fn month_label((y, m): (i32, u32)) -> String {
    format!("{y}-{m:02}")
}

fn sales() -> Vec<Sale> {
    let mut rng = Lcg(20240101);
    let mut out = Vec::new();
    for year in [2024, 2025] {
        for month in 1..=12u32 {
            for (store, per_stream, _) in STORES {
                for (territory, mult, factor) in TERRITORIES {
                    for track in 0..TRACKS.len() {
                        let base = [60_000u64, 35_000, 22_000, 15_000][track];
                        let units = Decimal::from(base * rng.next(80, 120) / 100 * if territory == "US" { 3 } else { 1 });
                        // Nets in multiples of 0.20 so every royalty is exact to the cent.
                        let raw = units * d(per_stream) * d(mult);
                        let net = (raw / d("0.2")).round() * d("0.2");
                        out.push(Sale { month: (year, month), store, territory, factor: d(factor), track, units, net });
                    }
                }
            }
        }
    }
    out
}

struct Row {
    kind: &'static str,
    description: String,
    source: String,
    territory: String,
    configuration: String,
    isrc: String,
    upc: String,
    title: String,
    sale_period: String,
    units: Option<Decimal>,
    free: Option<Decimal>,
    price: Option<Decimal>,
    receipts: Option<Decimal>,
    rate: Option<Decimal>,
    original: Option<(Decimal, &'static str, Decimal)>,
    invoice_amount: Option<Decimal>,
    invoice: String,
    date: String,
    amount: Decimal,
}

impl Row {
    fn new(kind: &'static str, description: &str, amount: Decimal) -> Row {
        Row {
            kind,
            description: description.to_string(),
            source: String::new(),
            territory: String::new(),
            configuration: String::new(),
            isrc: String::new(),
            upc: String::new(),
            title: String::new(),
            sale_period: String::new(),
            units: None,
            free: None,
            price: None,
            receipts: None,
            rate: None,
            original: None,
            invoice_amount: None,
            invoice: String::new(),
            date: String::new(),
            amount,
        }
    }
}

fn num(v: Decimal) -> f64 {
    // The workbook cell is a number, as a label's spreadsheet has it; every value written
    // here has at most 2–4 decimals and 15 significant digits, so it reads back exactly.
    v.to_f64().expect("finite")
}

fn write_statement(path: &Path, half: &str, statement_date: &str, income: &[Row], account: &[Row]) {
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2026, 1, 1).expect("date");
    wb.set_properties(&DocProperties::new().set_creation_datetime(&fixed).set_author("Harbour Records Ltd"));
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet().set_name("Statement").expect("sheet");
    let _ = ws.write_with_format(0, 0, "Harbour Records Ltd - Artist Royalty Statement", &bold);
    let _ = ws.write(1, 0, "Artist: Nova Reed");
    let _ = ws.write(2, 0, "Account: NR-001");
    let _ = ws.write(3, 0, format!("Statement period: {half}"));
    let _ = ws.write(4, 0, format!("Statement date: {statement_date}"));
    let header = [
        "Period", "Account", "Type", "Description", "Source", "Territory", "Configuration", "ISRC", "UPC", "Title",
        "Sale Period", "Units", "Free Goods", "Price", "Receipts", "Rate", "Original Amount", "Original Currency",
        "Exchange Rate", "Invoice Amount", "Invoice", "Date", "Royalty", "Currency",
    ];
    for (c, h) in header.iter().enumerate() {
        let _ = ws.write_with_format(6, c as u16, *h, &bold);
    }
    let mut r = 7u32;
    let put = |ws: &mut rust_xlsxwriter::Worksheet, row: &Row, r: u32| {
        let _ = ws.write(r, 0, half);
        let _ = ws.write(r, 1, "NR-001");
        let _ = ws.write(r, 2, row.kind);
        let texts = [
            (3, &row.description), (4, &row.source), (5, &row.territory), (6, &row.configuration), (7, &row.isrc),
            (8, &row.upc), (9, &row.title), (10, &row.sale_period), (20, &row.invoice), (21, &row.date),
        ];
        for (c, t) in texts {
            if !t.is_empty() {
                let _ = ws.write(r, c, t.as_str());
            }
        }
        for (c, v) in [(11, row.units), (12, row.free), (13, row.price), (14, row.receipts), (15, row.rate), (19, row.invoice_amount)] {
            if let Some(v) = v {
                let _ = ws.write(r, c, num(v));
            }
        }
        if let Some((amount, cur, rate)) = row.original {
            let _ = ws.write(r, 16, num(amount));
            let _ = ws.write(r, 17, cur);
            let _ = ws.write(r, 18, num(rate));
        }
        let _ = ws.write(r, 22, num(row.amount));
        let _ = ws.write(r, 23, "USD");
    };
    let mut units = Decimal::ZERO;
    let mut royalty = Decimal::ZERO;
    for row in income {
        put(ws, row, r);
        units += row.units.unwrap_or_default();
        royalty += row.amount;
        r += 1;
    }
    let _ = ws.write_with_format(r, 3, "Subtotal royalties", &bold);
    let _ = ws.write(r, 11, num(units));
    let _ = ws.write(r, 22, num(royalty));
    r += 2;
    for row in account {
        put(ws, row, r);
        r += 1;
    }
    let notes = wb.add_worksheet().set_name("Notes").expect("sheet");
    let _ = notes.write(0, 0, "Physical royalties on PPD less free goods; digital on net receipts. Rates in percent.");
    wb.save(path).expect("write xlsx");
}

fn main() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-statements");
    std::fs::create_dir_all(out.join("distributor")).expect("mkdir");
    std::fs::create_dir_all(out.join("label")).expect("mkdir");
    std::fs::create_dir_all(out.join("dsp")).expect("mkdir");
    let sales = sales();
    // Distributor monthly reports.
    for year in [2024, 2025] {
        for month in 1..=12u32 {
            let mut csv = String::from("Sales Period,Store,Offering,Territory,ISRC,UPC,Track Title,Artist,Sale Type,Quantity,Gross Revenue,Net Revenue,Currency\n");
            for s in sales.iter().filter(|s| s.month == (year, month)) {
                let (isrc, title) = TRACKS[s.track];
                let gross = (s.net * d("1.25")).round_dp(2);
                let _ = writeln!(csv, "{},{},Premium,{},{isrc},{UPC},{title},Nova Reed,Stream,{},{gross},{},USD", month_label(s.month), s.store, s.territory, s.units, s.net);
            }
            std::fs::write(out.join(format!("distributor/tunestream_{year}-{month:02}.csv")), csv).expect("write csv");
        }
    }
    // YouTube's own quarterly report (official video streams), which the label accounts for.
    let mut yt_rows: Vec<(String, &str, usize, Decimal, Decimal)> = Vec::new();
    let mut rng = Lcg(7);
    for year in [2024, 2025] {
        for month in 1..=12u32 {
            for (terr, _) in [("US", 0), ("GB", 1)] {
                let units = Decimal::from(rng.next(40_000, 60_000));
                let net = ((units * d("0.0016")) / d("0.2")).round() * d("0.2");
                yt_rows.push((month_label((year, month)), terr, 0, units, net));
            }
        }
    }
    for q in 0..8 {
        let (year, first) = (2024 + q / 4, (q % 4) * 3 + 1);
        let mut csv = String::from("Sales Period,Store,Offering,Territory,ISRC,UPC,Track Title,Artist,Sale Type,Quantity,Gross Revenue,Net Revenue,Currency\n");
        for (m, terr, t, units, net) in yt_rows.iter().filter(|r| (first..first + 3).any(|mm| r.0 == month_label((year, mm as u32)))) {
            let (isrc, title) = TRACKS[*t];
            let _ = writeln!(csv, "{m},YouTube Music,Official video,{terr},{isrc},,{title},Nova Reed,Stream,{units},{},{net},USD", (net * d("1.3")).round_dp(2));
        }
        std::fs::write(out.join(format!("dsp/youtube_{year}-Q{}.csv", q % 4 + 1)), csv).expect("write csv");
    }

    // Label statements.
    let mut balance = Decimal::ZERO;
    let mut payable_prev = Decimal::ZERO;
    let mut cum_physical_rb = Decimal::ZERO;
    let mut report = String::new();
    let mut tranches: Vec<(String, Decimal)> = Vec::new();
    let mut allin_cum = Decimal::ZERO;
    let mut producer_cum = Decimal::ZERO;
    let physical_units = [("US", "CD", "100", 3600u64), ("GB", "CD", "75", 1400), ("DE", "CD", "75", 1000), ("US", "Vinyl", "100", 1000)];
    let half_mult = [d("1.0"), d("1.2"), d("1.4"), d("0.9")];
    let mut planted = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (hi, (half, year, first)) in HALVES.iter().enumerate() {
        let months: Vec<(i32, u32)> = (*first..first + 6).map(|m| (*year, m)).collect();
        let mut income = Vec::new();
        let mut credited = Decimal::ZERO;
        for s in sales.iter().filter(|s| months.contains(&s.month) && STORES.iter().any(|(n, _, reported)| *n == s.store && *reported)) {
            let (isrc, title) = TRACKS[s.track];
            let contract_rate = d("20") * s.factor / d("100");
            // Plant 1: Apple Music US streams in 2024-H2 credited at 17.5% instead of 20%.
            let rate = if *half == "2024-H2" && s.store == "Apple Music" && s.territory == "US" { d("17.5") } else { contract_rate };
            let royalty = (s.net * rate / d("100")).round_dp(2);
            if rate != contract_rate {
                planted.0 += s.net * (contract_rate - rate) / d("100");
            }
            let mut row = Row::new("Income", "Streaming", royalty);
            row.source = s.store.to_string();
            row.territory = s.territory.to_string();
            row.configuration = "Streaming".into();
            row.isrc = isrc.into();
            row.title = title.into();
            row.sale_period = month_label(s.month);
            row.units = Some(s.units);
            row.receipts = Some(s.net);
            row.rate = Some(rate);
            credited += royalty;
            if s.track < 3 {
                allin_cum += s.net * contract_rate / d("100");
                producer_cum += s.net * s.factor / d("100") * d("3") / d("100");
            }
            income.push(row);
        }
        for (m, terr, t, units, net) in yt_rows.iter().filter(|r| months.iter().any(|mm| r.0 == month_label(*mm))) {
            let factor = if *terr == "US" { d("100") } else { d("75") };
            let rate = d("20") * factor / d("100");
            let royalty = (net * rate / d("100")).round_dp(2);
            let mut row = Row::new("Income", "Streaming", royalty);
            row.source = "YouTube Music".into();
            row.territory = terr.to_string();
            row.configuration = "Streaming".into();
            row.isrc = TRACKS[*t].0.into();
            row.title = TRACKS[*t].1.into();
            row.sale_period = m.clone();
            row.units = Some(*units);
            row.receipts = Some(*net);
            row.rate = Some(rate);
            credited += royalty;
            allin_cum += net * rate / d("100");
            producer_cum += net * factor / d("100") * d("3") / d("100");
            income.push(row);
        }
        // Physical: shipped units with 15% free goods; escalation to 19% above 15,000
        // royalty-bearing units of the album (plant 2: never applied).
        let mut physical = Decimal::ZERO;
        for (terr, config, factor, base) in physical_units {
            let units = (Decimal::from(base) * half_mult[hi] / d("20")).round() * d("20");
            let free = units * d("0.15");
            let rb = units - free;
            let price = if config == "CD" { d("10") } else { d("15") };
            let f = d(factor) / d("100");
            let applied = d("18") * f;
            let royalty = rb * price * applied / d("100");
            // What the contract makes due: units above the threshold at 19%.
            let threshold = d("15000");
            let above = (cum_physical_rb + rb - threshold.max(cum_physical_rb)).max(Decimal::ZERO).min(rb);
            planted.1 += above * price * f / d("100");
            cum_physical_rb += rb;
            let mut row = Row::new("Income", &format!("{config} sales"), royalty);
            row.source = "Physical".into();
            row.territory = terr.into();
            row.configuration = config.into();
            row.upc = UPC.into();
            row.title = "Harbour Lights".into();
            row.sale_period = format!("{}-{:02}", year, first + 5);
            row.units = Some(units);
            row.free = Some(free);
            row.price = Some(price);
            row.rate = Some(applied);
            credited += royalty;
            physical += royalty;
            allin_cum += royalty + above * price * f / d("100");
            // Release-level line: the producer made 3 of its 4 tracks.
            producer_cum += rb * price * f * d("3") / d("100") * d("3") / d("4");
            income.push(row);
        }
        // Plant 7: a UK sync licence in 2025-H2 (GBP 10,000 received), converted at 1.10 USD
        // per GBP where the reference for November 2025 is 1.08 / 0.85 = 1.270588…
        if *half == "2025-H2" {
            let fee_gbp = d("10000");
            let rate_used = d("1.10");
            let receipts = fee_gbp * rate_used;
            let royalty = receipts * d("0.5");
            let mut row = Row::new("Income", "Sync licence - Lantern Year (UK TV)", royalty);
            row.source = "Licence".into();
            row.territory = "GB".into();
            row.configuration = "Sync".into();
            row.isrc = TRACKS[3].0.into();
            row.title = TRACKS[3].1.into();
            row.sale_period = "2025-11".into();
            row.receipts = Some(receipts);
            row.rate = Some(d("50"));
            row.original = Some((fee_gbp * d("0.5"), "GBP", rate_used));
            planted.5 = fee_gbp * d("0.5") * (d("1.08") / d("0.85") - rate_used);
            credited += royalty;
            income.push(row);
        }
        let statement_date = format!("{}-{}", if *first == 1 { *year } else { year + 1 }, if *first == 1 { "09-15" } else { "03-15" });
        let mut account = Vec::new();
        let opening = balance;
        let mut o = Row::new("Opening balance", "Balance brought forward", opening);
        o.date = statement_date.clone();
        account.push(o);
        let mut movements = credited;
        if payable_prev > Decimal::ZERO {
            let mut p = Row::new("Payment", "Paid to artist", -payable_prev);
            p.date = statement_date.clone();
            movements -= payable_prev;
            account.push(p);
        }
        let charge = |kind: &'static str, desc: &str, invoice: &str, invoice_amount: Option<Decimal>, amount: Decimal, account: &mut Vec<Row>| {
            let mut c = Row::new(kind, desc, -amount);
            c.invoice = invoice.into();
            c.invoice_amount = invoice_amount;
            account.push(c);
            -amount
        };
        match *half {
            "2024-H1" => {
                movements += charge("Advance", "Advance on signing", "ADV-2024-01", None, ADVANCE, &mut account);
                movements += charge("Recording costs", "Recording costs - Harbour Lights", "INV-1042", Some(RECORDING), RECORDING, &mut account);
            }
            "2024-H2" => {
                movements += charge("Video costs", "Video production - Glass Harbour", "INV-1107", Some(d("8000")), d("4000"), &mut account);
                // Plant 4: the label's own radio marketing, not recoupable under the contract.
                movements += charge("Marketing", "Radio marketing campaign", "INV-1133", Some(d("2500")), d("2500"), &mut account);
                planted.2 = d("2500");
            }
            _ => {}
        }
        // Reserves: 15% of physical royalties (cap 20%), released a quarter of each tranche
        // per half; plant 5: the 2024-H1 tranche is never released.
        let withheld = (physical * d("0.15")).round_dp(2);
        let mut w = Row::new("Reserve", "Reserve against returns (physical)", -withheld);
        w.configuration = "Physical".into();
        account.push(w);
        movements -= withheld;
        for (k, (tranche, amount)) in tranches.iter().enumerate() {
            let _ = k;
            if tranche == "2024-H1" {
                continue;
            }
            let part = (amount / d("4")).round_dp(2);
            account.push(Row::new("Reserve released", &format!("Reserve release {tranche}"), part));
            movements += part;
        }
        tranches.push((half.to_string(), withheld));
        balance = opening + movements;
        let mut c = Row::new("Closing balance", "Balance carried forward", balance);
        c.date = statement_date.clone();
        account.push(c);
        payable_prev = if balance >= d("50") { balance } else { Decimal::ZERO };
        write_statement(&out.join(format!("label/harbour_statement_{half}.xlsx")), half, &statement_date, &income, &account);
        let _ = writeln!(report, "{half}: credited {credited}, closing {balance}, cumulative all-in {allin_cum}, producer royalty to date {producer_cum}");
    }
    // Plant 5 amount: three of four quarters of the 2024-H1 tranche were due by 2025-H2.
    planted.3 = tranches[0].1 * d("3") / d("4");
    // Plant 6: the producer (3 points, $5,000 advance) is owed from record one once the
    // $30,000 recording costs are recouped at the all-in rate (see the report above).
    planted.4 = producer_cum - PRODUCER_ADVANCE;
    print!("{report}");
    println!("plant 1 (C1 Apple Music US 2024-H2 at 17.5%): {}", planted.0);
    println!("plant 2 (C6 escalation to 19% above 15,000 units): {}", planted.1);
    println!("plant 3 (B4 Deezer never reported): see the audit");
    println!("plant 4 (D3 radio marketing): {}", planted.2);
    println!("plant 5 (E3 2024-H1 reserve never released, 3/4 due by 2025-H2): {}", planted.3);
    println!("plant 6 (C9 producer unpaid after recoupment, if recouped by 2025-H2): {}", planted.4);
    println!("plant 7 (F1 sync converted at 1.10 USD/GBP): {}", planted.5);
}
