//! Build ledgers and contracts for rule tests without files: a line builder, a standard
//! contract, and helpers to run the engine and pick findings.

use std::str::FromStr;

use chrono::NaiveDate;
use royalty_audit::contract::{parse_contract, Contract};
use royalty_audit::engine::{self, Audit, Finding, Options, Rule, Severity};
use royalty_audit::import::FileImport;
use royalty_audit::ledger::{Currency, IncomeType, LedgerLine, LineKind, Period, SourceRef, StatementKind, Store, Territory};
use rust_decimal::Decimal;

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn period(s: &str) -> Period {
    if let Some((y, h)) = s.split_once("-H") {
        return Period::half(y.parse().unwrap(), h.parse().unwrap()).unwrap();
    }
    let (y, m) = s.split_once('-').unwrap();
    Period::month(y.parse().unwrap(), m.parse().unwrap()).unwrap()
}

pub struct L(pub LedgerLine);

fn new_line(file: &str, row: u64, kind: StatementKind, line_kind: LineKind) -> L {
    L(LedgerLine::new(SourceRef::new(file, None, row), "test", kind, line_kind, Currency::parse("USD").unwrap()))
}

/// A label statement income line in the statement file of `period`.
pub fn income(period_s: &str, row: u64) -> L {
    let mut l = new_line(&format!("label_{period_s}.xlsx"), row, StatementKind::Label, LineKind::Income);
    l.0.accounting_period = Some(period(period_s));
    l.0.account = Some("NR-001".into());
    l
}

/// A non-income label line (charge, balance, reserve, payment) with its signed amount.
pub fn entry(period_s: &str, row: u64, kind: LineKind, amount: &str) -> L {
    let mut l = new_line(&format!("label_{period_s}.xlsx"), row, StatementKind::Label, kind);
    l.0.accounting_period = Some(period(period_s));
    l.0.account = Some("NR-001".into());
    l.0.amount = Some(dec(amount));
    l
}

pub fn charge(period_s: &str, row: u64, kind: &str, amount: &str) -> L {
    entry(period_s, row, LineKind::Charge, amount).charge_kind(kind)
}

/// A distributor sales line.
pub fn sale(row: u64, month: &str) -> L {
    let mut l = new_line("distributor.csv", row, StatementKind::Distributor, LineKind::Income);
    l.0.sale_period = Some(period(month));
    l.0.income_type = Some(IncomeType::Stream);
    l
}

impl L {
    pub fn store(mut self, s: &str) -> L {
        self.0.store = Some(Store::parse(s).id.into());
        self
    }
    pub fn terr(mut self, t: &str) -> L {
        self.0.territory = Territory::parse(t);
        self
    }
    pub fn isrc(mut self, i: &str) -> L {
        self.0.isrc = Some(i.into());
        self
    }
    pub fn upc(mut self, u: &str) -> L {
        self.0.upc = Some(u.into());
        self
    }
    pub fn month(mut self, m: &str) -> L {
        self.0.sale_period = Some(period(m));
        self
    }
    pub fn kind(mut self, t: IncomeType) -> L {
        self.0.income_type = Some(t);
        self
    }
    pub fn config(mut self, c: &str) -> L {
        self.0.sale_type = Some(c.into());
        self
    }
    pub fn units(mut self, v: &str) -> L {
        self.0.units = Some(dec(v));
        self
    }
    pub fn price(mut self, v: &str) -> L {
        self.0.details_mut().unit_price = Some(dec(v));
        self
    }
    pub fn net(mut self, v: &str) -> L {
        self.0.net = Some(dec(v));
        self
    }
    pub fn gross(mut self, v: &str) -> L {
        self.0.gross = Some(dec(v));
        self
    }
    pub fn fees(mut self, v: &str) -> L {
        self.0.fees = Some(dec(v));
        self
    }
    /// Rate in percent, stored as a fraction as the importers do.
    pub fn rate(mut self, pct: &str) -> L {
        self.0.royalty_rate = Some(dec(pct) / Decimal::ONE_HUNDRED);
        self
    }
    pub fn royalty(mut self, v: &str) -> L {
        self.0.royalty = Some(dec(v));
        self
    }
    pub fn free(mut self, v: &str) -> L {
        self.0.details_mut().free_units = Some(dec(v));
        self
    }
    pub fn container(mut self, pct: &str) -> L {
        self.0.details_mut().container_pct = Some(dec(pct) / Decimal::ONE_HUNDRED);
        self
    }
    pub fn charge_kind(mut self, k: &str) -> L {
        self.0.details_mut().charge_kind = Some(k.into());
        self
    }
    pub fn reference(mut self, r: &str) -> L {
        self.0.details_mut().reference = Some(r.into());
        self
    }
    pub fn desc(mut self, d: &str) -> L {
        self.0.details_mut().description = Some(d.into());
        self
    }
    pub fn dated(mut self, d: &str) -> L {
        self.0.reporting_date = Some(date(d));
        self
    }
    pub fn original(mut self, amount: &str, currency: &str, fx: Option<&str>) -> L {
        self.0.details_mut().original_amount = Some(dec(amount));
        self.0.details_mut().original_currency = Currency::parse(currency);
        self.0.details_mut().fx_rate = fx.map(dec);
        self
    }
    pub fn price_category(mut self, c: &str) -> L {
        self.0.details_mut().price_category = Some(c.into());
        self
    }
    pub fn split(mut self, pct: &str) -> L {
        self.0.details_mut().split_pct = Some(dec(pct) / Decimal::ONE_HUNDRED);
        self
    }
}

/// Group lines into one FileImport per source file, rows in order.
pub fn files(lines: Vec<L>) -> Vec<FileImport> {
    let mut out: Vec<FileImport> = Vec::new();
    for L(l) in lines {
        match out.iter_mut().find(|f| *f.file == *l.source.file) {
            Some(f) => f.lines.push(l),
            None => out.push(FileImport { file: l.source.file.to_string(), profile: "test".into(), lines: vec![l], ..Default::default() }),
        }
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// The standard royalty deal the rule tests use (domain.md examples 1-B, 1-C).
pub const DEAL: &str = r#"
[contract]
id = "nova-reed-harbour"
payee = "Nova Reed"
label = "Harbour Records"
currency = "USD"
accounting = "half"
statement_due_days = 90
start = 2024-01-01

[territories]
home = ["US"]
groups = { major = ["GB", "DE", "FR", "JP", "AU", "NL", "IT"] }

[[accounts]]
id = "main"
statement_accounts = ["NR-001"]

[[releases]]
id = "lp1"
upc = "840123456786"
title = "Glass Harbour"
account = "main"
price_category = "full"
prices = { cd = "10.00", vinyl = "15.00" }

[[tracks]]
isrc = "GBABC2400001"
release = "lp1"

[[tracks]]
isrc = "GBABC2400002"
release = "lp1"

[[tracks]]
isrc = "GBABC2400003"
release = "lp1"

[[royalties]]
id = "physical"
clause = "Sch. A 1(a)"
income_types = ["physical"]
base = "ppd"
rate = 18
territory_factors = { home = 100, major = 75, rest_of_world = 50 }
free_goods_pct = 15

[[royalties]]
id = "streams"
clause = "Sch. A 2(b)"
income_types = ["stream", "download"]
base = "net_receipts"
rate = 20
territory_factors = { home = 100, major = 75, rest_of_world = 50 }

[[royalties]]
id = "sync"
clause = "Sch. A 4"
income_types = ["sync"]
base = "net_receipts"
rate = 50

[recoupable]
advance = 100
recording_cost = 100
video = 50
tour_support = 100
independent_promotion = 50
producer_payment = 100

[[advances]]
amount = 50000
description = "on signing"

[reserves]
cap_pct = 20
applies_to = ["physical"]
liquidation = "equal"
periods = 4

[audit]
interest_rate_pct = 9
objection_period_months = 36
cost_shift_threshold_pct = 5
"#;

pub fn contract(text: &str) -> Contract {
    match parse_contract(text, "deal.toml") {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

pub fn audit_with(c: &Contract, lines: Vec<L>, claim_date: Option<&str>) -> Audit {
    let opts = Options { claim_date: claim_date.map(date), ..Default::default() };
    engine::run(c, &files(lines), &opts)
}

pub fn audit(lines: Vec<L>) -> Audit {
    audit_with(&contract(DEAL), lines, None)
}

/// Findings that carry money (claims and overstatements).
pub fn money(a: &Audit) -> Vec<&Finding> {
    a.findings.iter().filter(|f| matches!(f.severity, Severity::Claim | Severity::Overstatement)).collect()
}

pub fn of(a: &Audit, rule: Rule) -> Vec<&Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

/// Exactly one money finding, of this rule; returns it.
pub fn only(a: &Audit, rule: Rule) -> &Finding {
    let m = money(a);
    assert_eq!(m.len(), 1, "expected exactly one money finding ({rule:?}), got:\n{}", describe(&m));
    assert_eq!(m[0].rule, rule, "{}", describe(&m));
    m[0]
}

pub fn describe(fs: &[&Finding]) -> String {
    fs.iter()
        .map(|f| format!("  {} {} royalty {} account {} cash {}: {}", f.id, f.title, f.royalty_effect, f.account_effect, f.cash_effect, f.explanation))
        .collect::<Vec<_>>()
        .join("\n")
}
