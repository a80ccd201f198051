//! The account as the label stated it, period by period (domain.md §2.4): opening balance,
//! credits, charges, reserves, payments, adjustments and closing balance, per statement
//! account. Amounts on non-income lines are balance effects signed as stated
//! (credit +, debit −); a closing balance is before the payment of what it makes payable,
//! and payments on a statement settle the balance brought forward.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::context::Ctx;
use crate::ledger::{LineKind, Period, SourceRef};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeriodAccount {
    pub account: String,
    pub period: Option<Period>,
    pub opening: Option<Decimal>,
    pub credits: Decimal,
    pub charges: Decimal,
    pub reserves_withheld: Decimal,
    pub reserves_released: Decimal,
    pub payments: Decimal,
    pub adjustments: Decimal,
    pub closing_reported: Option<Decimal>,
    /// opening + every movement, as the statement's own lines give it.
    pub closing_computed: Decimal,
    #[serde(skip)]
    pub opening_ref: Option<SourceRef>,
    #[serde(skip)]
    pub closing_ref: Option<SourceRef>,
    #[serde(skip)]
    pub refs: Vec<SourceRef>,
}

impl PeriodAccount {
    pub fn movements(&self) -> Decimal {
        self.credits + self.charges + self.reserves_withheld + self.reserves_released + self.payments + self.adjustments
    }

    /// The closing balance the label stated, or the one its lines give.
    pub fn closing(&self) -> Decimal {
        self.closing_reported.unwrap_or(self.closing_computed)
    }
}

/// The statement account a line belongs to.
pub fn statement_account(ctx: &Ctx, account: Option<&str>) -> String {
    account
        .map(str::to_string)
        .or_else(|| ctx.contract.terms.accounts.first().map(|a| a.get_ref().id.clone()))
        .unwrap_or_else(|| ctx.contract.id().to_string())
}

/// Roll-forward per statement account and accounting period, in period order.
pub fn roll_forward(ctx: &Ctx) -> Vec<PeriodAccount> {
    let mut map: BTreeMap<(String, Option<Period>), PeriodAccount> = BTreeMap::new();
    for l in &ctx.statement {
        let account = statement_account(ctx, l.account.as_deref());
        let period = Ctx::period_of(l);
        let pa = map.entry((account.clone(), period)).or_insert_with(|| PeriodAccount { account, period, ..Default::default() });
        let amount = l.amount.unwrap_or_default();
        match l.line_kind {
            LineKind::Income => pa.credits += l.royalty.unwrap_or_default(),
            LineKind::Charge => pa.charges += amount,
            LineKind::ReserveWithheld => pa.reserves_withheld += amount,
            LineKind::ReserveReleased => pa.reserves_released += amount,
            LineKind::Payment => pa.payments += amount,
            LineKind::Adjustment => pa.adjustments += amount,
            LineKind::OpeningBalance => {
                *pa.opening.get_or_insert(Decimal::ZERO) += amount;
                pa.opening_ref = Some(l.source.clone());
            }
            LineKind::ClosingBalance => {
                *pa.closing_reported.get_or_insert(Decimal::ZERO) += amount;
                pa.closing_ref = Some(l.source.clone());
            }
        }
        pa.refs.push(l.source.clone());
    }
    let mut out: Vec<PeriodAccount> = map.into_values().collect();
    for pa in &mut out {
        pa.closing_computed = pa.opening.unwrap_or_default() + pa.movements();
    }
    out
}

/// The payable for a closing balance under the contract's minimum payment.
pub fn payable(ctx: &Ctx, closing: Decimal) -> Decimal {
    let min = ctx.contract.terms.contract.minimum_payment.unwrap_or_default();
    if closing > Decimal::ZERO && closing >= min { closing } else { Decimal::ZERO }
}
