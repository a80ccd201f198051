//! One worked example per audit rule of domain.md §6.2 (the domain doc's numbers where it
//! gives them), each asserting the exact finding and amount; a clean statement asserting no
//! findings; and the deal shapes (royalty, profit split, distributor split, producer points
//! in both recoupment modes) clean and with one planted error each.

mod builder;

use builder::*;
use royalty_audit::engine::fx_rates::FxTable;
use royalty_audit::engine::{Rule, Severity};
use royalty_audit::import::ControlCheck;
use royalty_audit::ledger::{IncomeType, LineFlag, LineKind, SourceRef};

const ISRC1: &str = "GBABC2400001";
const ISRC2: &str = "GBABC2400002";
const UPC: &str = "840123456786";

fn spotify_us() -> L {
    income("2024-H1", 7).store("Spotify").terr("US").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units("300000").net("1250").rate("20").royalty("250")
}

fn apple_gb() -> L {
    income("2024-H1", 8).store("Apple Music").terr("GB").isrc(ISRC2).month("2024-02").kind(IncomeType::Stream).units("52000").net("400").rate("15").royalty("60")
}

fn cd_us() -> L {
    income("2024-H1", 9).store("Physical").terr("US").upc(UPC).month("2024-03").kind(IncomeType::Physical).config("CD").units("1000").price("10").rate("18").royalty("1800")
}

fn sources() -> Vec<L> {
    vec![
        sale(2, "2024-01").store("Spotify").terr("US").isrc(ISRC1).units("300000").net("1250"),
        sale(3, "2024-02").store("Apple Music").terr("GB").isrc(ISRC2).units("52000").net("400"),
    ]
}

/// A correct H1 2024 statement with matching distributor data: 250 + 60 + 1,800 credited.
fn clean() -> Vec<L> {
    let mut v = vec![
        spotify_us(),
        apple_gb(),
        cd_us(),
        entry("2024-H1", 12, LineKind::OpeningBalance, "-5000"),
        entry("2024-H1", 16, LineKind::ClosingBalance, "-2890"),
    ];
    v.extend(sources());
    v
}

fn replace(mut lines: Vec<L>, row: u64, with: L) -> Vec<L> {
    let i = lines.iter().position(|l| l.0.source.row == row && l.0.source.file.starts_with("label")).unwrap();
    lines[i] = with;
    lines
}

fn set_closing(lines: Vec<L>, amount: &str) -> Vec<L> {
    replace(lines, 16, entry("2024-H1", 16, LineKind::ClosingBalance, amount))
}

/// The clean statement with one line replaced and the closing balance that follows; the
/// one money finding it must produce.
fn planted(row: u64, with: L, closing: &str, rule: Rule) -> royalty_audit::engine::Finding {
    let a = audit(set_closing(replace(clean(), row, with), closing));
    only(&a, rule).clone()
}

#[test]
fn clean_statement_has_no_findings() {
    let a = audit(clean());
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    assert_eq!(a.totals.reported_royalties, dec("2110"));
    assert_eq!(a.totals.recomputed_royalties, dec("2110"));
    assert_eq!(a.totals.claim, dec("0"));
}

// ---------- A. Data integrity ----------

#[test]
fn a1_duplicate_income_and_charge() {
    let mut lines = clean();
    lines.push(income("2024-H1", 10).store("Spotify").terr("US").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units("300000").net("1250").rate("20").royalty("250"));
    lines.push(charge("2024-H1", 13, "video", "-500").gross("1000").reference("INV-7"));
    lines.push(charge("2024-H1", 14, "video", "-500").gross("1000").reference("INV-7"));
    // The same sale as row 2 of the sales data, its amount written to another scale.
    lines.push(sale(40, "2024-01").store("Spotify").terr("US").isrc(ISRC1).units("300000").net("1250.00"));
    let a = audit(set_closing(lines, "-3640"));
    let m = money(&a);
    assert_eq!(m.len(), 2, "{}", describe(&m));
    let dup_income = m.iter().find(|f| f.title == "Duplicate income line").unwrap();
    assert_eq!(dup_income.severity, Severity::Overstatement);
    assert_eq!(dup_income.royalty_effect, dec("-250"));
    assert_eq!(dup_income.keys["line"], format!("{ISRC1} spotify  US 2024-01  300000 250"));
    assert_eq!(dup_income.evidence.iter().map(|s| s.row).collect::<Vec<_>>(), [7, 10]);
    let dup_sale = of(&a, Rule::A1).into_iter().find(|f| f.title == "Duplicate line in the sales data").unwrap();
    assert_eq!(dup_sale.severity, Severity::Info);
    assert_eq!(dup_sale.evidence.iter().map(|s| s.row).collect::<Vec<_>>(), [2, 40]);
    let dup_charge = m.iter().find(|f| f.title == "Duplicate charge").unwrap();
    assert_eq!(dup_charge.account_effect, dec("500"));
    assert_eq!(dup_charge.cash_effect, dec("0"), "the account is unrecouped");
    assert_eq!(a.totals.account_effect, dec("500"));
}

#[test]
fn a2_calculation_error() {
    let f = planted(9, cd_us().royalty("1700"), "-2990", Rule::A2);
    assert_eq!(f.royalty_effect, dec("100"));
    assert_eq!((f.expected, f.reported), (Some(dec("1800")), Some(dec("1700"))));
}

/// Audit `lines` with the statement's "Subtotal royalties" row stating 2,000 where its lines
/// add up to 2,110.
fn audit_with_wrong_total(lines: Vec<L>) -> royalty_audit::engine::Audit {
    let mut fs = files(lines);
    let label = fs.iter_mut().find(|f| f.file.starts_with("label")).unwrap();
    label.controls.push(ControlCheck {
        source: SourceRef::new(&label.file, None, 11),
        field: "royalty".into(),
        currency: None,
        stated: dec("2000"),
        computed: Some(dec("2110")),
        ok: Some(false),
        note: None,
    });
    royalty_audit::engine::run(&contract(DEAL), &fs, &Default::default())
}

#[test]
fn a3_footing_error_when_the_balance_follows_the_wrong_total() {
    let a = audit_with_wrong_total(set_closing(clean(), "-3000"));
    let f = only(&a, Rule::A3);
    assert_eq!(f.account_effect, dec("110"));
    // The same total error with a closing that follows the lines costs nothing.
    let a = audit_with_wrong_total(clean());
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    assert_eq!(of(&a, Rule::A3)[0].severity, Severity::Info);
}

#[test]
fn a4_invalid_identifier() {
    let mut lines = clean();
    let mut bad = sale(9, "2024-01").store("Spotify").terr("US").units("10").net("0.04");
    bad.0.flags.push(LineFlag::InvalidIsrc("GB-ABC-24-0001".into()));
    lines.push(bad);
    let a = audit(lines);
    let f = of(&a, Rule::A4);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].keys["identifier"], "ISRC GB-ABC-24-0001");
    assert_eq!(f[0].evidence[0].row, 9);
}

fn h2_2025_statement() -> Vec<L> {
    vec![
        income("2025-H1", 7).store("Spotify").terr("US").isrc(ISRC1).month("2025-01").kind(IncomeType::Stream).units("1000").net("100").rate("20").royalty("20"),
        sale(20, "2025-01").store("Spotify").terr("US").isrc(ISRC1).units("1000").net("100"),
    ]
}

#[test]
fn a5_missing_statement_period() {
    let mut lines = clean();
    lines.extend(h2_2025_statement());
    lines.push(sale(21, "2024-08").store("Spotify").terr("US").isrc(ISRC1).units("30000").net("100"));
    let a = audit(lines);
    let f = only(&a, Rule::A5);
    assert_eq!(f.royalty_effect, dec("20"));
    assert_eq!(f.keys["missing"], "statement for 2024-H2");
}

#[test]
fn a6_unreported_isrc() {
    let mut lines = clean();
    lines.extend(h2_2025_statement());
    lines.push(sale(22, "2024-03").store("Spotify").terr("US").isrc("GBABC2400003").units("12000").net("50"));
    let a = audit(lines);
    let f = only(&a, Rule::A6);
    assert_eq!(f.royalty_effect, dec("10"));
    assert_eq!(f.keys["missing"], "ISRC GBABC2400003");
}

// ---------- B. Income completeness ----------

fn with_h2(mut lines: Vec<L>) -> Vec<L> {
    lines.push(income("2024-H2", 7).store("Spotify").terr("US").isrc(ISRC1).month("2024-07").kind(IncomeType::Stream).units("1000").net("100").rate("20").royalty("20"));
    lines.push(sale(30, "2024-07").store("Spotify").terr("US").isrc(ISRC1).units("1000").net("100"));
    lines
}

#[test]
fn b1_missing_income() {
    let mut lines = with_h2(clean());
    lines.push(sale(31, "2024-02").store("Spotify").terr("US").isrc(ISRC1).units("120000").net("500"));
    let a = audit(lines);
    let f = only(&a, Rule::B1);
    assert_eq!(f.royalty_effect, dec("100"));
    assert_eq!(f.period.unwrap().to_string(), "2024-H1");
}

#[test]
fn b1_not_yet_due_inside_the_lag_window() {
    let mut lines = clean();
    lines.push(sale(31, "2024-05").store("Spotify").terr("US").isrc(ISRC1).units("120000").net("500"));
    let a = audit(lines);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    assert!(of(&a, Rule::B1).iter().any(|f| f.severity == Severity::Info && f.title.contains("not yet due")));
}

#[test]
fn b2_units_short() {
    let lines = replace(clean(), 7, spotify_us().units("240000"));
    let a = audit(lines);
    let f = only(&a, Rule::B2);
    assert_eq!(f.royalty_effect, dec("50"));
}

#[test]
fn b3_receipts_short() {
    let f = planted(7, spotify_us().net("1000").royalty("200"), "-2940", Rule::B3);
    assert_eq!(f.royalty_effect, dec("50"));
    assert_eq!(f.difference, Some(dec("250")));
}

#[test]
fn b3_receipts_short_against_a_half_year_sale_period() {
    // The label shows the half year as the sale period: the sales months inside it match it.
    let f = planted(7, spotify_us().month("2024-H1").net("1000").royalty("200"), "-2940", Rule::B3);
    assert_eq!(f.royalty_effect, dec("50"));
    assert_eq!(f.difference, Some(dec("250")));
}

#[test]
fn b4_unreported_store_and_territory() {
    let mut lines = with_h2(clean());
    lines.push(sale(32, "2024-01").store("Deezer").terr("US").isrc(ISRC1).units("20000").net("100"));
    lines.push(sale(33, "2024-01").store("Spotify").terr("BR").isrc(ISRC1).units("90000").net("100"));
    let a = audit(lines);
    let m = money(&a);
    assert_eq!(m.len(), 2, "{}", describe(&m));
    let store = m.iter().find(|f| f.keys["missing"] == "store deezer").unwrap();
    assert_eq!((store.rule, store.royalty_effect), (Rule::B4, dec("20")));
    let terr = m.iter().find(|f| f.keys["missing"] == "territory BR").unwrap();
    assert_eq!((terr.rule, terr.royalty_effect), (Rule::B4, dec("10")), "rest of world at 50%");
}

#[test]
fn b5_late_accounting_earns_interest() {
    let mut lines = clean();
    lines.push(income("2025-H2", 7).store("Spotify").terr("US").isrc(ISRC1).month("2024-02").kind(IncomeType::Stream).units("120000").net("500").rate("20").royalty("100"));
    lines.push(sale(34, "2024-02").store("Spotify").terr("US").isrc(ISRC1).units("120000").net("500"));
    let a = audit(lines);
    let f = only(&a, Rule::B5);
    // Due with the 2024-H1 statement (2024-09-28), accounted with 2025-H2 (2026-03-31): 549 days.
    assert_eq!(f.interest, dec("13.54"));
    assert_eq!(f.cash_effect, dec("0"));
}

// ---------- C. Rates and bases ----------

#[test]
fn c1_rate_mismatch() {
    let f = planted(7, spotify_us().rate("16").royalty("200"), "-2940", Rule::C1);
    assert_eq!(f.royalty_effect, dec("50"));
    assert_eq!(f.keys["applied_rate"], "16%");
    assert_eq!(f.keys["expected_rate"], "20%");
    assert!(f.clause.starts_with("streams (Sch. A 2(b)) at deal.toml:"), "{}", f.clause);
}

#[test]
fn c2_incorrect_base_price() {
    let f = planted(9, cd_us().price("9").royalty("1620"), "-3070", Rule::C2);
    assert_eq!(f.royalty_effect, dec("180"));
}

#[test]
fn c3_home_sale_given_a_foreign_reduction() {
    let f = planted(9, cd_us().rate("13.5").royalty("1350"), "-3340", Rule::C3);
    assert_eq!(f.royalty_effect, dec("450"));
}

#[test]
fn c4_packaging_deduction_not_allowed() {
    let f = planted(9, cd_us().container("25").royalty("1350"), "-3340", Rule::C4);
    assert_eq!(f.royalty_effect, dec("450"));
}

#[test]
fn c5_excess_free_goods() {
    // 200 free of 1,000 against a 15% cap (150): 50 excess units × $1.80.
    let f = planted(9, cd_us().free("200").royalty("1440"), "-3250", Rule::C5);
    assert_eq!(f.royalty_effect, dec("90"));
}

const ESCALATING: &str = r#"
[contract]
id = "esc"
payee = "Nova Reed"
currency = "USD"

[territories]
home = ["US"]

[[releases]]
id = "lp1"
upc = "840123456786"
prices = { cd = "10.00" }

[[royalties]]
income_types = ["physical"]
base = "ppd"
rate = 18
escalation = { counting = "per_release", mode = "prospective", tiers = [{ from_units = 500000, rate = 19 }] }
"#;

#[test]
fn c6_escalation_not_applied_example_1d() {
    let c = contract(ESCALATING);
    let cd = |p: &str, units: &str, royalty: &str| {
        income(p, 7).store("Physical").terr("US").upc(UPC).month(if p == "2024-H1" { "2024-03" } else { "2024-09" }).kind(IncomeType::Physical).config("CD").units(units).price("10").rate("18").royalty(royalty)
    };
    let a = audit_with(&c, vec![cd("2024-H1", "480000", "864000"), cd("2024-H2", "40000", "72000")], None);
    let f = only(&a, Rule::C6);
    assert_eq!(f.expected, Some(dec("74000")));
    assert_eq!(f.royalty_effect, dec("2000"));
    // With the escalated rate applied to the units above the threshold: no finding.
    let ok = income("2024-H2", 8).store("Physical").terr("US").upc(UPC).month("2024-09").kind(IncomeType::Physical).config("CD").units("40000").price("10").royalty("74000");
    let a = audit_with(&c, vec![cd("2024-H1", "480000", "864000"), ok], None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
}

#[test]
fn c6_stream_escalation_with_streams_per_unit() {
    // 1,500 streams = 1 unit; 20% up to 1,000 units, 22% above. 3,000,000 streams = 2,000
    // units: half the receipts at 20%, half at 22%; the label kept 20% throughout.
    let deal = DEAL.replace(
        "id = \"streams\"",
        "id = \"streams\"\nescalation = { counting = \"cumulative\", streams_per_unit = 1500, tiers = [{ from_units = 1000, rate = 22 }] }",
    );
    let line = income("2024-H1", 7).store("Spotify").terr("US").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units("3000000").net("10000").rate("20").royalty("2000");
    let a = audit_with(&contract(&deal), vec![line], None);
    let f = only(&a, Rule::C6);
    assert_eq!(f.royalty_effect, dec("100"));
}

#[test]
fn c7_licence_income_under_credited() {
    // Example 1-C: sync fee $20,000 at 50% = $10,000; credited at 40%.
    let mut lines = clean();
    lines.push(income("2024-H1", 10).store("Licence").terr("US").isrc(ISRC1).kind(IncomeType::Sync).net("20000").rate("40").royalty("8000"));
    let a = audit(set_closing(lines, "5110"));
    let f = only(&a, Rule::C7);
    assert_eq!(f.royalty_effect, dec("2000"));
}

#[test]
fn c8_distribution_fee_deducted_when_not_allowed() {
    let deal = DEAL.replace("id = \"streams\"", "id = \"streams\"\nfees_deductible = false");
    let lines = replace(clean(), 7, spotify_us().gross("1400").fees("150"));
    let mut lines = lines;
    // The distributor data show the same net (the label's receipts after the fee).
    let a = audit_with(&contract(&deal), std::mem::take(&mut lines), None);
    let f = only(&a, Rule::C8);
    assert_eq!(f.royalty_effect, dec("30"));
}

#[test]
fn c8_withholding_tax_above_the_contract_rate() {
    // Brazil: 15% allowed on receipts of 1,000 before tax; the licensee withheld 250.
    let deal = DEAL.replace("[audit]", "[withholding]\nBR = 15\n\n[audit]");
    let line = income("2024-H1", 7).store("Spotify").terr("BR").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units("1").net("750").fees("0").rate("10").royalty("75");
    let mut line = line;
    line.0.taxes = Some(dec("250"));
    let a = audit_with(&contract(&deal), vec![line], None);
    let f = only(&a, Rule::C8);
    // 100 of excess tax × 20% × 50% rest-of-world factor.
    assert_eq!(f.royalty_effect, dec("10"));
}

#[test]
fn c10_systematic_rounding() {
    let mut lines = Vec::new();
    for i in 0..10u64 {
        // 10.0249 × 20% = 2.00498, truncated to 2.00 each time.
        lines.push(income("2024-H1", 20 + i).store("Spotify").terr("US").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units(&(2500 + i).to_string()).net("10.0249").rate("20").royalty("2.00"));
    }
    let a = audit(lines);
    let f = only(&a, Rule::C10);
    assert_eq!(f.royalty_effect, dec("0.04980"));
}

#[test]
fn c11_full_price_product_reported_as_mid_price() {
    let f = planted(9, cd_us().price_category("mid").rate("13.5").royalty("1350"), "-3340", Rule::C11);
    assert_eq!(f.royalty_effect, dec("450"));
}

// ---------- C9 / producers (domain.md §3.2) ----------

fn producer_deal(trigger: &str) -> String {
    format!(
        r#"
[contract]
id = "prod"
payee = "Nova Reed"
currency = "USD"
accounting = "half"

[territories]
home = ["US"]

[[releases]]
id = "lp1"
upc = "840123456786"
prices = {{ cd = "10.00" }}

[[royalties]]
income_types = ["physical"]
base = "ppd"
rate = 18

[recoupable]
recording_cost = 100
producer_payment = 100
producer_advance = 100

[[producers]]
name = "Sam Vale"
points = 3
releases = ["lp1"]
advance = 15000
trigger = "{trigger}"
"#
    )
}

fn cd(p: &str, units: &str, rate: &str, royalty: &str) -> L {
    income(p, 7).store("Physical").terr("US").upc(UPC).month(&format!("{}-03", &p[..4])).kind(IncomeType::Physical).config("CD").units(units).price("10").rate(rate).royalty(royalty)
}

fn producer_paid(p: &str, amount: &str) -> L {
    charge(p, 9, "producer_payment", amount).desc("Producer royalties Sam Vale")
}

fn balances(p: &str, opening: &str, closing: &str) -> Vec<L> {
    vec![entry(p, 12, LineKind::OpeningBalance, opening), entry(p, 16, LineKind::ClosingBalance, closing)]
}

/// Domain §3.2's three periods (60,000, 25,000, 20,000 CDs at $10 PPD, 18% all-in, $150,000
/// recording costs) with the 2024-H2 closing, and the 2025-H1 lines after the CD sale.
fn example_3_2(h2_paid: Option<&str>, h2_closing: &str, h3: Vec<L>, h3_closing: &str) -> Vec<L> {
    let mut lines = vec![cd("2024-H1", "60000", "18", "108000"), charge("2024-H1", 8, "recording_cost", "-150000")];
    lines.extend(balances("2024-H1", "0", "-42000"));
    lines.push(cd("2024-H2", "25000", "18", "45000"));
    if let Some(paid) = h2_paid {
        lines.push(producer_paid("2024-H2", paid));
    }
    lines.extend(balances("2024-H2", "-42000", h2_closing));
    lines.push(cd("2025-H1", "20000", "18", "36000"));
    lines.extend(h3);
    lines.extend(balances("2025-H1", h2_closing, h3_closing));
    lines
}

/// The artist paid the positive 2024-H2 balance and the producer paid in 2025-H1.
fn paid_in_p3(producer: &str) -> Vec<L> {
    vec![entry("2025-H1", 10, LineKind::Payment, "-3000"), producer_paid("2025-H1", producer)]
}

#[test]
fn c9_producer_combined_rate_test_clean_and_planted() {
    let c = contract(&producer_deal("recoupment_combined"));
    let lines = example_3_2(Some("-10500"), "-7500", vec![producer_paid("2025-H1", "-6000")], "22500");
    let a = audit_with(&c, lines, None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));

    // Planted: the producer is not paid when the record recoups in P2.
    let a = audit_with(&c, example_3_2(None, "3000", paid_in_p3("-6000"), "30000"), None);
    let f = only(&a, Rule::C9);
    assert_eq!(f.title, "Producer not paid after recoupment");
    assert_eq!(f.cash_effect, dec("10500"));
    assert_eq!(f.payee.as_deref(), Some("Sam Vale"));
    assert_eq!(f.period.unwrap().to_string(), "2024-H2");
    assert_eq!(a.totals.third_party["Sam Vale"], dec("10500"));
}

#[test]
fn c9_producer_net_rate_test_pays_in_p3() {
    let lines = || example_3_2(None, "3000", paid_in_p3("-16500"), "19500");
    let a = audit_with(&contract(&producer_deal("recoupment_net")), lines(), None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    // The same statements under the combined test pay the producer too late.
    let a = audit_with(&contract(&producer_deal("recoupment_combined")), lines(), None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    let late = of(&a, Rule::C9);
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].title.as_str(), late[0].severity), ("Producer paid late", Severity::Info));
    assert_eq!(late[0].period.unwrap().to_string(), "2024-H2");
}

#[test]
fn c9_producer_advance_double_recovered() {
    // Net presentation (15% = 18% − 3 points) with the full $150,000 including the $15,000
    // producer advance charged: the artist pays the advance twice.
    let c = contract(&producer_deal("recoupment_net"));
    let mut lines = vec![
        cd("2024-H1", "60000", "15", "90000"),
        charge("2024-H1", 8, "recording_cost", "-135000"),
        charge("2024-H1", 9, "producer_advance", "-15000").desc("Producer advance Sam Vale"),
    ];
    lines.extend(balances("2024-H1", "0", "-60000"));
    let a = audit_with(&c, lines, None);
    let f = only(&a, Rule::C9);
    assert_eq!(f.title, "Producer advance double-recovered");
    assert_eq!(f.account_effect, dec("15000"));
}

// ---------- D. Recoupment ----------

#[test]
fn d1_balance_arithmetic() {
    let a = audit(set_closing(clean(), "-3000"));
    let f = only(&a, Rule::D1);
    assert_eq!(f.account_effect, dec("110"));
    assert_eq!((f.expected, f.reported), (Some(dec("-2890")), Some(dec("-3000"))));
}

#[test]
fn d2_opening_balance_discontinuity() {
    let mut lines = clean();
    lines.push(income("2024-H2", 7).store("Physical").terr("US").upc(UPC).month("2024-09").kind(IncomeType::Physical).config("CD").units("100").price("10").rate("18").royalty("180"));
    lines.extend(vec![entry("2024-H2", 12, LineKind::OpeningBalance, "-3200"), entry("2024-H2", 16, LineKind::ClosingBalance, "-3020")]);
    let a = audit(lines);
    let f = only(&a, Rule::D2);
    assert_eq!(f.account_effect, dec("310"));
}

/// Example 2-A as reported: video at 100% and an unlisted radio campaign.
fn example_2a() -> Vec<L> {
    vec![
        entry("2024-H2", 5, LineKind::OpeningBalance, "-120000"),
        income("2024-H2", 6).store("Spotify").terr("US").isrc(ISRC1).month("2024-08").kind(IncomeType::Stream).units("1").net("192000").rate("20").royalty("38400"),
        charge("2024-H2", 7, "video", "-50000").gross("50000").desc("Video production"),
        charge("2024-H2", 8, "tour_support", "-10000"),
        charge("2024-H2", 9, "producer_payment", "-2400"),
        charge("2024-H2", 10, "marketing", "-8000").desc("Radio marketing campaign"),
        entry("2024-H2", 11, LineKind::ReserveWithheld, "-3000"),
        entry("2024-H2", 12, LineKind::ReserveReleased, "1200"),
        entry("2024-H2", 13, LineKind::ClosingBalance, "-153800"),
    ]
}

#[test]
fn d3_d4_example_2a_account_effect_without_cash() {
    let deal = DEAL.replace("applies_to = [\"physical\"]", "applies_to = [\"physical\", \"stream\"]");
    let a = audit_with(&contract(&deal), example_2a(), None);
    let m = money(&a);
    assert_eq!(m.len(), 2, "{}", describe(&m));
    let d4 = of(&a, Rule::D4);
    assert_eq!((d4[0].account_effect, d4[0].cash_effect), (dec("25000"), dec("0")));
    let d3 = of(&a, Rule::D3);
    assert_eq!((d3[0].account_effect, d3[0].cash_effect), (dec("8000"), dec("0")));
    assert_eq!(a.totals.account_effect, dec("33000"));
    assert_eq!(a.totals.principal, dec("0"));
}

#[test]
fn d5_improper_cross_collateralisation_section_2_3() {
    let deal = r#"
[contract]
id = "two-albums"
payee = "Nova Reed"
currency = "USD"

[[accounts]]
id = "album1"
statement_accounts = ["NR-001"]

[[accounts]]
id = "album2"
statement_accounts = ["NR-001"]

[[releases]]
id = "lp1"
upc = "840123456786"
account = "album1"

[[releases]]
id = "lp2"
upc = "036000291452"
account = "album2"

[[tracks]]
isrc = "GBABC2400001"
release = "lp1"

[[tracks]]
isrc = "GBABC2500001"
release = "lp2"

[[royalties]]
income_types = ["stream"]
base = "net_receipts"
rate = 20

[recoupable]
advance = 100

[[advances]]
account = "album1"
amount = 100000

[[advances]]
account = "album2"
amount = 100000
"#;
    let lines = vec![
        income("2024-H1", 5).store("Spotify").terr("US").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units("1").net("50000").rate("20").royalty("10000"),
        income("2024-H1", 6).store("Spotify").terr("US").isrc("GBABC2500001").month("2024-01").kind(IncomeType::Stream).units("1").net("600000").rate("20").royalty("120000"),
        charge("2024-H1", 7, "advance", "-100000").upc(UPC),
        charge("2024-H1", 8, "advance", "-100000").upc("036000291452"),
        entry("2024-H1", 9, LineKind::ClosingBalance, "-70000"),
    ];
    let a = audit_with(&contract(deal), lines, None);
    let f = only(&a, Rule::D5);
    assert_eq!(f.cash_effect, dec("20000"));
}

#[test]
fn d6_unsupported_duplicate_invoice_and_advance_over_contract() {
    let mut lines = clean();
    lines.push(charge("2024-H1", 13, "video", "-500").gross("1000").reference("INV-1"));
    lines.push(charge("2024-H1", 14, "tour_support", "-300").desc("Van hire"));
    lines.push(charge("2024-H1", 15, "tour_support", "-700").reference("INV-1").desc("Rehearsal"));
    lines.push(charge("2024-H1", 17, "advance", "-60000").reference("ADV-1"));
    let a = audit(set_closing(lines, "-64390"));
    let d6 = of(&a, Rule::D6);
    assert_eq!(d6.len(), 3, "{}", describe(&d6));
    let get = |t: &str| d6.iter().find(|f| f.title == t).unwrap().account_effect;
    assert_eq!(get("Unsupported charge (no invoice)"), dec("300"));
    assert_eq!(get("Invoice charged twice"), dec("700"));
    assert_eq!(get("Advances above the contract amount"), dec("10000"));
    assert_eq!(money(&a).len(), 3, "{}", describe(&money(&a)));
}

#[test]
fn d7_royalties_withheld() {
    let mut lines = vec![cd_us(), entry("2024-H1", 12, LineKind::OpeningBalance, "0"), entry("2024-H1", 16, LineKind::ClosingBalance, "1800")];
    lines.push(income("2024-H2", 7).store("Physical").terr("US").upc(UPC).month("2024-09").kind(IncomeType::Physical).config("CD").units("100").price("10").rate("18").royalty("180"));
    lines.extend(vec![entry("2024-H2", 12, LineKind::OpeningBalance, "1800"), entry("2024-H2", 16, LineKind::ClosingBalance, "1980")]);
    let a = audit(lines);
    let f = only(&a, Rule::D7);
    assert_eq!(f.cash_effect, dec("1800"));
}

// ---------- E. Reserves ----------

#[test]
fn e1_excess_reserve() {
    // 20% of $1,800 physical royalties = $360 allowed; $500 withheld.
    let lines = vec![cd_us(), entry("2024-H1", 11, LineKind::ReserveWithheld, "-500"), entry("2024-H1", 12, LineKind::OpeningBalance, "0"), entry("2024-H1", 16, LineKind::ClosingBalance, "1300")];
    let a = audit(lines);
    let f = only(&a, Rule::E1);
    assert_eq!((f.account_effect, f.cash_effect), (dec("140"), dec("140")));
}

/// With two statement accounts, a finding's cash effect is worked out on the account of the
/// lines it cites: the excess reserve is on NR-002, paid out, so the 140 is owed now; on
/// NR-001 (the account of the statement's first lines, deep in the red) it would be nothing.
/// (With one statement account the lookup by evidence is skipped: this is its test.)
#[test]
fn cash_effects_follow_the_statement_account_of_their_evidence() {
    let deal = DEAL.replace(
        "[[accounts]]\nid = \"main\"\nstatement_accounts = [\"NR-001\"]\n",
        "[[accounts]]\nid = \"main\"\nstatement_accounts = [\"NR-001\"]\n\n[[accounts]]\nid = \"side\"\nstatement_accounts = [\"NR-002\"]\n",
    );
    // The release sold on NR-002 is of the second account (else NR-002 would pool accounts).
    let deal = deal.replace("account = \"main\"\nprice_category", "account = \"side\"\nprice_category");
    assert_eq!(deal.matches("\"side\"").count(), 2, "the second account and its release are in the deal");
    let on = |L(mut l): L, account: &str| {
        l.account = Some(account.into());
        L(l)
    };
    let lines = vec![
        entry("2024-H1", 2, LineKind::OpeningBalance, "-50000"),
        entry("2024-H1", 3, LineKind::ClosingBalance, "-50000"),
        on(cd_us(), "NR-002"),
        on(entry("2024-H1", 11, LineKind::ReserveWithheld, "-500"), "NR-002"),
        on(entry("2024-H1", 12, LineKind::OpeningBalance, "0"), "NR-002"),
        on(entry("2024-H1", 16, LineKind::ClosingBalance, "1300"), "NR-002"),
    ];
    let a = audit_with(&contract(&deal), lines, None);
    let f = only(&a, Rule::E1);
    assert_eq!((f.account_effect, f.cash_effect), (dec("140"), dec("140")), "{}", describe(&money(&a)));
    assert_eq!(a.accounts.iter().map(|pa| pa.account.as_str()).collect::<std::collections::BTreeSet<_>>().len(), 2);
}

#[test]
fn e2_reserve_on_digital_income() {
    let lines = vec![spotify_us(), entry("2024-H1", 11, LineKind::ReserveWithheld, "-50")];
    let a = audit(lines);
    let f = only(&a, Rule::E2);
    assert_eq!(f.account_effect, dec("50"));
}

#[test]
fn e3_reserve_not_liquidated_example_1b() {
    // $3,978 withheld in 2023-H1 on $19,890 of physical royalties; only the first $994.50
    // released; by 2025-H1 (four periods later) all of it should be out.
    let deal = DEAL.replace("start = 2024-01-01", "start = 2023-01-01");
    let mut lines = vec![
        income("2023-H1", 5).store("Physical").terr("US").upc(UPC).month("2023-03").kind(IncomeType::Physical).config("CD").units("11050").free("1657.5").price("10").rate("18").royalty("16906.50"),
        entry("2023-H1", 6, LineKind::ReserveWithheld, "-3978"),
        entry("2023-H2", 6, LineKind::ReserveReleased, "994.50"),
    ];
    for p in ["2024-H1", "2024-H2", "2025-H1"] {
        lines.push(entry(p, 6, LineKind::Adjustment, "0"));
    }
    let a = audit_with(&contract(&deal), lines, None);
    let f = only(&a, Rule::E3);
    assert_eq!(f.account_effect, dec("2983.50"));
    assert_eq!(f.period.unwrap().to_string(), "2024-H1", "behind schedule from the second release");
}

// ---------- F. Currency ----------

fn fx_deal() -> royalty_audit::contract::Contract {
    let mut c = contract(&DEAL.replace("[audit]", "[fx]\nreference = \"ecb.csv\"\nbasis = \"sale_month_average\"\n\n[audit]"));
    c.fx_rates = Some(FxTable::parse("date,currency,per_eur\n2024-01-31,USD,1.08\n2024-01-31,GBP,0.85\n", "ecb.csv").unwrap());
    c
}

fn gb_line(fx: &str, royalty: &str, net: &str) -> L {
    income("2024-H1", 7).store("Spotify").terr("GB").isrc(ISRC1).month("2024-01").kind(IncomeType::Stream).units("1").net(net).rate("15").royalty(royalty).original("1000", "GBP", Some(fx))
}

#[test]
fn f1_fx_rate_variance() {
    let a = audit_with(&fx_deal(), vec![gb_line("1.20", "1200", "8000")], None);
    let f = only(&a, Rule::F1);
    // Reference USD per GBP = 1.08 / 0.85 = 1.270588…; 1,000 × (1.270588… − 1.20).
    assert_eq!(f.royalty_effect.round_dp(2), dec("70.59"));
    // Inside the 2% tolerance: nothing.
    let a = audit_with(&fx_deal(), vec![gb_line("1.26", "1260", "8400")], None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
}

#[test]
fn f2_inverted_rate() {
    let a = audit_with(&fx_deal(), vec![gb_line("0.787037", "787.04", "5246.9333")], None);
    let f = only(&a, Rule::F2);
    assert_eq!(f.royalty_effect.round_dp(2), dec("483.55"));
}

// ---------- G. Timing ----------

#[test]
fn g1_late_statement_interest() {
    let lines = vec![cd_us().dated("2024-10-15"), entry("2024-H1", 12, LineKind::OpeningBalance, "0").dated("2024-10-15"), entry("2024-H1", 16, LineKind::ClosingBalance, "1800").dated("2024-10-15")];
    let a = audit(lines);
    let f = only(&a, Rule::G1);
    // Due 2024-09-28 (30 June + 90 days); 17 days late on $1,800 at 9%.
    assert_eq!(f.interest, dec("7.55"));
    assert_eq!(a.totals.interest, dec("7.55"));
}

#[test]
fn g2_interest_on_each_underpayment() {
    let lines = vec![cd_us().rate("13.5").royalty("1350"), entry("2024-H1", 12, LineKind::OpeningBalance, "0"), entry("2024-H1", 16, LineKind::ClosingBalance, "1350")];
    let a = audit_with(&contract(DEAL), lines, Some("2025-09-28"));
    let f = only(&a, Rule::C3);
    assert_eq!(f.cash_effect, dec("450"));
    assert_eq!(f.due_date, Some(date("2024-09-28")));
    // 450 × 9% × 365/365.
    assert_eq!(f.interest, dec("40.50"));
    assert_eq!(a.totals.claim, dec("490.50"));
}

#[test]
fn g3_time_barred() {
    let lines = vec![cd_us().rate("13.5").royalty("1350").dated("2024-09-01"), entry("2024-H1", 16, LineKind::ClosingBalance, "1350")];
    let a = audit_with(&contract(DEAL), lines, Some("2028-01-01"));
    let f = only(&a, Rule::C3);
    assert!(f.time_barred, "statement of 2024-09-01 + 36 months < 2028-01-01");
    assert_eq!(a.totals.principal, dec("0"));
    assert!(a.totals.time_barred > dec("450"));
}

#[test]
fn g4_audit_frequency() {
    let deal = DEAL.replace("cost_shift_threshold_pct = 5", "cost_shift_threshold_pct = 5\nprevious = [{ date = 2025-03-01, periods = [\"2024-H1\"] }]");
    let a = audit_with(&contract(&deal), clean(), Some("2025-09-01"));
    let g4 = of(&a, Rule::G4);
    assert_eq!(g4.len(), 2);
    assert!(g4.iter().all(|f| f.severity == Severity::Info));
}

// ---------- Deal shapes ----------

const PROFIT_SPLIT: &str = r#"
[contract]
id = "indie-5050"
payee = "Nova Reed"
currency = "USD"

[[royalties]]
clause = "§5 net profits split 50/50"
income_types = ["other"]
base = "net_receipts"
rate = 50

[recoupable]
recording_cost = 50
manufacturing = 50
marketing = 50
overhead_fee = 50
advance = 100

[[advances]]
amount = 5000
"#;

/// Example 1-E: receipts $60,000; costs 15,000 + 4,000 + 9,000; overhead fee $6,000; the
/// artist's half less a $5,000 advance = $8,000.
fn profit_split_statement() -> Vec<L> {
    vec![
        income("2024-H1", 5).kind(IncomeType::Other).net("60000").rate("50").royalty("30000"),
        charge("2024-H1", 6, "recording_cost", "-7500").gross("15000"),
        charge("2024-H1", 7, "manufacturing", "-2000").gross("4000"),
        charge("2024-H1", 8, "marketing", "-4500").gross("9000"),
        charge("2024-H1", 9, "overhead_fee", "-3000").gross("6000"),
        charge("2024-H1", 10, "advance", "-5000"),
        entry("2024-H1", 11, LineKind::ClosingBalance, "8000"),
    ]
}

#[test]
fn profit_split_clean_and_office_rent_planted() {
    let c = contract(PROFIT_SPLIT);
    let a = audit_with(&c, profit_split_statement(), None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    let mut lines = profit_split_statement();
    lines.pop();
    lines.push(charge("2024-H1", 10, "office_rent", "-1500").gross("3000").desc("Office rent"));
    lines.push(entry("2024-H1", 11, LineKind::ClosingBalance, "6500"));
    let a = audit_with(&c, lines, None);
    let f = only(&a, Rule::D3);
    assert_eq!((f.account_effect, f.cash_effect), (dec("1500"), dec("1500")));
}

const DISTRIBUTION: &str = r#"
[contract]
id = "cdbaby-split"
kind = "distribution"
payee = "Nova Reed"
currency = "USD"

[distribution]
commission_pct = 9

[[splits]]
isrc = "GBABC2400001"
shares = { "Nova Reed" = 60, "Kit Marr" = 40 }
"#;

fn dist_line(net: &str, split: &str) -> L {
    // Domain §4.2: 100,000 US streams, gross $400.00, 9% commission, 60/40 split → $218.40.
    sale(2, "2024-01").store("Spotify").terr("US").isrc(ISRC1).units("100000").gross("400").net(net).split(split)
}

#[test]
fn distributor_split_clean_and_planted() {
    let c = contract(DISTRIBUTION);
    let a = audit_with(&c, vec![dist_line("218.40", "60")], None);
    assert!(money(&a).is_empty(), "{}", describe(&money(&a)));
    let a = audit_with(&c, vec![dist_line("200.20", "55")], None);
    let f = only(&a, Rule::C1);
    assert_eq!(f.title, "Split share mismatch");
    assert_eq!(f.royalty_effect, dec("18.2"));
    let a = audit_with(&c, vec![dist_line("210.00", "60")], None);
    let f = only(&a, Rule::C8);
    assert_eq!(f.royalty_effect, dec("8.4"));
}

#[test]
fn findings_are_deterministic_and_ids_stable() {
    let mut lines = clean();
    lines.push(sale(31, "2024-02").store("Deezer").terr("US").isrc(ISRC1).units("120000").net("500"));
    let lines = replace(lines, 7, spotify_us().rate("15").royalty("187.50"));
    let a = audit(with_h2(lines));
    let j1 = serde_json::to_string(&a.findings).unwrap();
    let mut lines = with_h2(replace(clean(), 7, spotify_us().rate("15").royalty("187.50")));
    lines.push(sale(31, "2024-02").store("Deezer").terr("US").isrc(ISRC1).units("120000").net("500"));
    lines.reverse();
    let b = audit(lines);
    assert_eq!(j1, serde_json::to_string(&b.findings).unwrap());
    assert!(a.findings.iter().all(|f| !f.id.is_empty()));
}
