//! The account as the label stated it, period by period (domain.md §2.4): opening balance,
//! credits, charges, reserves, payments, adjustments and closing balance, per statement
//! account. Amounts on non-income lines are balance effects signed as stated
//! (credit +, debit −); a closing balance is before the payment of what it makes payable,
//! and payments on a statement settle the balance brought forward.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::context::Ctx;
use crate::ledger::{LineKind, LineText, Period, SourceRef};

/// Hash map of the roll-forward: a fixed fast hash (nothing is iterated in hash order).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

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
    /// The account period's first line (evidence of the period's figures).
    #[serde(skip)]
    pub first_ref: Option<SourceRef>,
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
    // Lines name their account as written (an interned text, or none): each (account as
    // written, period) is resolved once to its place among the (statement account, period)
    // groups, so a line costs at most one hash lookup and no allocation.
    let mut map: BTreeMap<(String, Option<Period>), usize> = BTreeMap::new();
    let mut groups: Vec<PeriodAccount> = Vec::new();
    // (Account as written, period).
    type Written = (Option<LineText>, Option<Period>);
    let mut resolved: HashMap<Written, usize> = HashMap::default();
    // (Lines of an account and period come in runs: a run's place is looked up once.)
    let mut last: Option<(Written, usize)> = None;
    for l in &ctx.statement {
        let period = Ctx::period_of(l);
        let at = match last {
            Some((key, at)) if key == (l.account, period) => at,
            _ => {
                let at = *resolved.entry((l.account, period)).or_insert_with(|| {
                    let account = statement_account(ctx, l.account.as_deref());
                    *map.entry((account.clone(), period)).or_insert_with(|| {
                        groups.push(PeriodAccount { account, period, ..Default::default() });
                        groups.len() - 1
                    })
                });
                last = Some(((l.account, period), at));
                at
            }
        };
        let Some(pa) = groups.get_mut(at) else { continue };
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
        if pa.first_ref.is_none() {
            pa.first_ref = Some(l.source.clone());
        }
    }
    // In (statement account, period) order: each group's pair is its own (the map keeps
    // them apart).
    groups.sort_by(|a, b| (&a.account, a.period).cmp(&(&b.account, b.period)));
    for pa in &mut groups {
        pa.closing_computed = pa.opening.unwrap_or_default() + pa.movements();
    }
    groups
}

/// The payable for a closing balance under the contract's minimum payment.
pub fn payable(ctx: &Ctx, closing: Decimal) -> Decimal {
    let min = ctx.contract.terms.contract.minimum_payment.unwrap_or_default();
    if closing > Decimal::ZERO && closing >= min { closing } else { Decimal::ZERO }
}
