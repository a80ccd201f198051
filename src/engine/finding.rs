//! Findings (domain.md §6.1, §6.3): what a check found, with the figures, their effects on
//! royalties, on the account balance and on cash, the evidence and the contract clause.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ledger::{Period, SourceRef};

/// The audit rules of domain.md §6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Rule {
    A1, A2, A3, A4, A5, A6,
    B1, B2, B3, B4, B5,
    C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11,
    D1, D2, D3, D4, D5, D6, D7,
    E1, E2, E3,
    F1, F2,
    G1, G2, G3, G4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    IncorrectRates,
    IncorrectBase,
    UnderReportedUnits,
    UnreportedIncome,
    ExcessCosts,
    ExcessFreeGoods,
    Escalations,
    AmountsWithheld,
    IncorrectShare,
    ProducerRoyalties,
    Currency,
    Timing,
    ProcessingErrors,
    DataIntegrity,
}

impl Category {
    pub fn title(self) -> &'static str {
        match self {
            Category::IncorrectRates => "Incorrect rates",
            Category::IncorrectBase => "Incorrect base prices",
            Category::UnderReportedUnits => "Under-reported units",
            Category::UnreportedIncome => "Unreported sales, income and territories",
            Category::ExcessCosts => "Excess costs charged",
            Category::ExcessFreeGoods => "Excess free goods",
            Category::Escalations => "Failure to apply escalations",
            Category::AmountsWithheld => "Excess amounts withheld",
            Category::IncorrectShare => "Incorrect share",
            Category::ProducerRoyalties => "Producer royalties",
            Category::Currency => "Currency conversion",
            Category::Timing => "Timing and interest",
            Category::ProcessingErrors => "Processing and mathematical errors",
            Category::DataIntegrity => "Data integrity",
        }
    }
}

impl Rule {
    pub fn category(self) -> Category {
        use Rule::*;
        match self {
            A1 | A2 | A3 | C10 | D1 | D2 => Category::ProcessingErrors,
            A4 => Category::DataIntegrity,
            A5 | A6 | B1 | B3 | B4 => Category::UnreportedIncome,
            B2 => Category::UnderReportedUnits,
            B5 | G1 | G2 | G3 | G4 => Category::Timing,
            C1 | C3 | C11 => Category::IncorrectRates,
            C2 | C4 => Category::IncorrectBase,
            C5 => Category::ExcessFreeGoods,
            C6 => Category::Escalations,
            C7 | C8 => Category::IncorrectShare,
            C9 => Category::ProducerRoyalties,
            D3 | D4 | D5 | D6 => Category::ExcessCosts,
            D7 | E1 | E2 | E3 => Category::AmountsWithheld,
            F1 | F2 => Category::Currency,
        }
    }

    /// The finding's name as auditors write it.
    pub fn title(self) -> &'static str {
        use Rule::*;
        match self {
            A1 => "Duplicate line",
            A2 => "Calculation error",
            A3 => "Footing error",
            A4 => "Invalid identifier",
            A5 => "Missing statement or period",
            A6 => "Unreported ISRC",
            B1 => "Missing income",
            B2 => "Under-reported units",
            B3 => "Under-reported receipts",
            B4 => "Unreported store or territory",
            B5 => "Late accounting",
            C1 => "Rate mismatch",
            C2 => "Incorrect royalty base",
            C3 => "Territory reduction misapplied",
            C4 => "Improper packaging deduction",
            C5 => "Excess free goods",
            C6 => "Escalation not applied",
            C7 => "Licence income under-credited",
            C8 => "Excess distribution fee",
            C9 => "Producer royalty error",
            C10 => "Systematic rounding",
            C11 => "Misclassified sales",
            D1 => "Balance arithmetic error",
            D2 => "Opening balance discontinuity",
            D3 => "Non-recoupable charge",
            D4 => "Excess recoupment",
            D5 => "Improper cross-collateralisation",
            D6 => "Unsupported charge",
            D7 => "Royalties withheld",
            E1 => "Excess reserve",
            E2 => "Improper reserve",
            E3 => "Reserve not liquidated",
            F1 => "FX rate variance",
            F2 => "Currency error",
            G1 => "Late statement",
            G2 => "Interest",
            G3 => "Time-barred",
            G4 => "Audit frequency and scope",
        }
    }

    pub fn code(self) -> String {
        format!("{self:?}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Money is owed (or the account is understated).
    Claim,
    /// The statement is wrong in the payee's favour (reported, kept out of the claim).
    Overstatement,
    /// Worth knowing; no money.
    Info,
    /// A check could not be made: the contract or the data lacks what it needs.
    NotChecked,
}

/// One finding. Money is in `currency` (the contract's); effects are positive when owed to
/// the payee (domain.md §6.1 claim sign).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub rule: Rule,
    pub category: Category,
    pub severity: Severity,
    pub title: String,
    /// Contract, account, payee, ISRC/UPC, store, territory, sale period, statement period…
    pub keys: BTreeMap<String, String>,
    /// The accounting period the effect belongs to (its due date follows from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    pub currency: String,
    pub expected: Option<Decimal>,
    pub reported: Option<Decimal>,
    pub difference: Option<Decimal>,
    pub royalty_effect: Decimal,
    pub account_effect: Decimal,
    pub cash_effect: Decimal,
    /// The period whose statement would have paid the cash effect (a finding on an
    /// unrecouped account pays only once the corrected account recoups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_period: Option<Period>,
    /// When the money should have been paid (period end + statement days).
    pub due_date: Option<NaiveDate>,
    /// Simple interest on the cash effect from the due date to the claim date (rule G2).
    pub interest: Decimal,
    /// Outside the objection period (rule G3): kept, but not in the claim total.
    pub time_barred: bool,
    pub evidence: Vec<SourceRef>,
    pub clause: String,
    pub explanation: String,
    /// How each figure was computed, line by line (shown by `explain`).
    pub trail: Vec<String>,
    /// The check fixed the cash effect itself (withheld payments, crossing, producer cash).
    #[serde(skip)]
    pub cash_fixed: bool,
    /// Whose money it is when not the contract's payee (a producer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payee: Option<String>,
}

impl Finding {
    pub fn new(rule: Rule, severity: Severity, currency: &str) -> Finding {
        Finding {
            id: String::new(),
            rule,
            category: rule.category(),
            severity,
            title: rule.title().to_string(),
            keys: BTreeMap::new(),
            period: None,
            currency: currency.to_string(),
            expected: None,
            reported: None,
            difference: None,
            royalty_effect: Decimal::ZERO,
            account_effect: Decimal::ZERO,
            cash_effect: Decimal::ZERO,
            cash_period: None,
            due_date: None,
            interest: Decimal::ZERO,
            time_barred: false,
            evidence: Vec::new(),
            clause: String::new(),
            explanation: String::new(),
            trail: Vec::new(),
            cash_fixed: false,
            payee: None,
        }
    }

    pub fn key(mut self, k: &str, v: impl ToString) -> Finding {
        let v = v.to_string();
        if !v.is_empty() {
            self.keys.insert(k.to_string(), v);
        }
        self
    }

    pub fn figures(mut self, expected: Decimal, reported: Decimal) -> Finding {
        self.expected = Some(expected);
        self.reported = Some(reported);
        self.difference = Some(expected - reported);
        self
    }

    /// A check that lacks what it needs says so (domain.md §8).
    pub fn not_checked(rule: Rule, currency: &str, why: impl Into<String>) -> Finding {
        let mut f = Finding::new(rule, Severity::NotChecked, currency);
        f.title = format!("Not checked: {}", rule.title().to_lowercase());
        f.explanation = why.into();
        f
    }

    /// Counts toward the claim: owed to the payee and not time-barred.
    pub fn in_claim(&self) -> bool {
        self.severity == Severity::Claim && !self.time_barred
    }
}

/// Stable ids: the rule and a short FNV-1a hash of the finding's keys, so an id does not
/// change when other findings appear or disappear.
pub fn assign_ids(findings: &mut [Finding]) {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for f in findings.iter_mut() {
        let mut text = format!("{:?}|{}|", f.rule, f.title);
        for (k, v) in &f.keys {
            text.push_str(k);
            text.push('=');
            text.push_str(v);
            text.push('|');
        }
        let mut h: u64 = 0xcbf29ce484222325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        let base = format!("{:?}-{:08x}", f.rule, (h >> 32) as u32);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        f.id = if *n == 1 { base } else { format!("{base}-{n}") };
    }
}
