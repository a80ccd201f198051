//! Reading a contract file: TOML syntax and shape errors, then the checks TOML cannot make
//! (known territories, currencies and income types, references between tables, percentages
//! in range, splits summing to 100). Every error names file:line:column and what was expected.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use rust_decimal::Decimal;

use super::model::*;
use super::Contract;
use crate::ledger::ids::{parse_isrc, parse_upc};
use crate::ledger::{Currency, IncomeType, Territory};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

impl std::error::Error for ContractError {}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Read and validate a contract file (and the FX reference file it names).
pub fn load_contract(path: &Path) -> Result<Contract, ContractError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ContractError {
        file: shown.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the contract: {e}"),
    })?;
    let mut contract = parse_contract(&text, &shown)?;
    if let Some(fx) = &contract.terms.fx {
        let span = fx.span();
        let reference = path.parent().unwrap_or(Path::new(".")).join(&fx.get_ref().reference);
        let table = crate::engine::fx_rates::FxTable::load(&reference).map_err(|message| {
            let (line, column) = position(&text, span.start);
            ContractError { file: shown.clone(), line, column, message: format!("[fx] reference: {message}") }
        })?;
        contract.fx_rates = Some(table);
    }
    Ok(contract)
}

/// Parse and validate contract text; `origin` names it in messages.
pub fn parse_contract(text: &str, origin: &str) -> Result<Contract, ContractError> {
    let err_at = |span: Range<usize>, message: String| {
        let (line, column) = position(text, span.start);
        ContractError { file: origin.to_string(), line, column, message }
    };
    let terms: ContractFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        err_at(span, e.message().trim().to_string())
    })?;
    let currency = Currency::parse(&terms.contract.currency).ok_or_else(|| {
        err_at(0..0, format!("[contract] currency '{}' is not an ISO 4217 code", terms.contract.currency))
    })?;
    validate(&terms, &err_at)?;
    Ok(Contract::new(origin, text, terms, currency))
}

fn check_pct(v: Decimal, what: &str) -> Result<(), String> {
    if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED {
        Err(format!("{what} is {v}; expected a percentage between 0 and 100"))
    } else {
        Ok(())
    }
}

fn check_income_type(name: &str, what: &str) -> Result<(), String> {
    if IncomeType::from_name(name).is_some() {
        Ok(())
    } else {
        Err(format!("{what}: unknown income type '{name}' (expected one of {})", IncomeType::NAMES.join(", ")))
    }
}

fn check_territory(code: &str, what: &str) -> Result<(), String> {
    match Territory::parse(code) {
        Some(Territory::Country(_)) => Ok(()),
        Some(Territory::Worldwide) => Err(format!("{what}: '{code}' is a worldwide marker, not a territory")),
        None => Err(format!("{what}: '{code}' is not an ISO 3166 territory")),
    }
}

fn validate(
    terms: &ContractFile,
    err_at: &dyn Fn(Range<usize>, String) -> ContractError,
) -> Result<(), ContractError> {
    let whole = 0..0;
    let top = |r: Result<(), String>| r.map_err(|m| err_at(whole.clone(), m));
    for c in &terms.territories.home {
        top(check_territory(c, "[territories] home"))?;
    }
    for (name, codes) in &terms.territories.groups {
        if name == super::HOME || name == super::REST_OF_WORLD {
            top(Err(format!("[territories.groups] '{name}' is reserved; home is [territories] home and rest_of_world is every other territory")))?;
        }
        for c in codes {
            top(check_territory(c, &format!("[territories.groups] {name}")))?;
        }
    }
    let groups: Vec<&str> = [super::HOME, super::REST_OF_WORLD]
        .into_iter()
        .chain(terms.territories.groups.keys().map(String::as_str))
        .collect();
    let account_ids: Vec<&str> = terms.accounts.iter().map(|a| a.get_ref().id.as_str()).collect();
    let check_account = |a: &Option<String>, what: &str| -> Result<(), String> {
        match a {
            Some(id) if !account_ids.contains(&id.as_str()) => {
                Err(format!("{what}: account '{id}' is not defined in [[accounts]] (defined: {})", account_ids.join(", ")))
            }
            _ => Ok(()),
        }
    };
    let release_ids: Vec<&str> = terms.releases.iter().map(|r| r.get_ref().id.as_str()).collect();
    for r in &terms.releases {
        let at = |m: String| err_at(r.span(), m);
        let rel = r.get_ref();
        check_account(&rel.account, "[[releases]]").map_err(at)?;
        if let Some(upc) = &rel.upc {
            parse_upc(upc).map_err(|e| at(format!("[[releases]] {}: upc '{upc}': {e}", rel.id)))?;
        }
        if let (Some(t), Some(a)) = (rel.tracks, rel.artist_tracks)
            && a > t
        {
            return Err(at(format!("[[releases]] {}: artist_tracks {a} is more than tracks {t}", rel.id)));
        }
    }
    for t in &terms.tracks {
        let at = |m: String| err_at(t.span(), m);
        let tr = t.get_ref();
        parse_isrc(&tr.isrc).map_err(|e| at(format!("[[tracks]] isrc '{}': {e}", tr.isrc)))?;
        check_account(&tr.account, "[[tracks]]").map_err(at)?;
        if let Some(r) = &tr.release
            && !release_ids.contains(&r.as_str())
        {
            return Err(at(format!("[[tracks]] {}: release '{r}' is not defined in [[releases]]", tr.isrc)));
        }
    }
    for t in &terms.royalties {
        let at = |m: String| err_at(t.span(), m);
        let term = t.get_ref();
        if term.income_types.is_empty() {
            return Err(at("[[royalties]] income_types is empty; expected at least one income type".into()));
        }
        for it in &term.income_types {
            check_income_type(it, "[[royalties]] income_types").map_err(at)?;
        }
        check_pct(term.rate, "[[royalties]] rate").map_err(at)?;
        for (g, f) in &term.territory_factors {
            if !groups.contains(&g.as_str()) {
                return Err(at(format!("[[royalties]] territory_factors: unknown group '{g}' (expected one of {})", groups.join(", "))));
            }
            check_pct(*f, &format!("[[royalties]] territory_factors.{g}")).map_err(at)?;
        }
        if term.base == Base::Fixed && term.fixed_price.is_none() {
            return Err(at("[[royalties]] base = \"fixed\" needs fixed_price".into()));
        }
        for (v, what) in [(term.container_pct, "container_pct"), (term.free_goods_pct, "free_goods_pct"), (term.max_fee_pct, "max_fee_pct")] {
            if let Some(v) = v {
                check_pct(v, &format!("[[royalties]] {what}")).map_err(at)?;
            }
        }
        if let (Some(f), Some(e)) = (term.from, term.to)
            && e < f
        {
            return Err(at(format!("[[royalties]] to ({e}) is before from ({f})")));
        }
        if let Some(esc) = &term.escalation {
            let mut last = Decimal::ZERO;
            for tier in &esc.tiers {
                check_pct(tier.rate, "[[royalties]] escalation tier rate").map_err(at)?;
                if tier.from_units <= last {
                    return Err(at("[[royalties]] escalation tiers must have increasing from_units above 0".into()));
                }
                last = tier.from_units;
            }
            if esc.streams_per_unit.is_some_and(|v| v <= Decimal::ZERO) {
                return Err(at("[[royalties]] escalation streams_per_unit must be above 0".into()));
            }
            for g in &esc.count_territories {
                if !groups.contains(&g.as_str()) {
                    return Err(at(format!("[[royalties]] escalation count_territories: unknown group '{g}'")));
                }
            }
        }
    }
    if let Some(r) = &terms.recoupable {
        for (k, v) in &r.get_ref().0 {
            check_pct(*v, &format!("[recoupable] {k}")).map_err(|m| err_at(r.span(), m))?;
        }
    }
    for a in &terms.advances {
        check_account(&a.get_ref().account, "[[advances]]").map_err(|m| err_at(a.span(), m))?;
    }
    for e in &terms.cross_collateralisation {
        let edge = e.get_ref();
        check_account(&Some(edge.credits_of.clone()), "[[cross_collateralisation]] credits_of").map_err(|m| err_at(e.span(), m))?;
        check_account(&Some(edge.may_recoup.clone()), "[[cross_collateralisation]] may_recoup").map_err(|m| err_at(e.span(), m))?;
    }
    if let Some(r) = &terms.reserves {
        let at = |m: String| err_at(r.span(), m);
        let res = r.get_ref();
        check_pct(res.cap_pct, "[reserves] cap_pct").map_err(at)?;
        if res.periods == 0 {
            return Err(at("[reserves] periods must be at least 1".into()));
        }
        for it in &res.applies_to {
            check_income_type(it, "[reserves] applies_to").map_err(at)?;
        }
    }
    for p in &terms.producers {
        let at = |m: String| err_at(p.span(), m);
        let pr = p.get_ref();
        if pr.points <= Decimal::ZERO || pr.points > Decimal::ONE_HUNDRED {
            return Err(at(format!("[[producers]] {}: points {} must be above 0 and at most 100", pr.name, pr.points)));
        }
        for r in &pr.releases {
            if !release_ids.contains(&r.as_str()) {
                return Err(at(format!("[[producers]] {}: release '{r}' is not defined in [[releases]]", pr.name)));
            }
        }
        for i in &pr.isrcs {
            parse_isrc(i).map_err(|e| at(format!("[[producers]] {}: isrc '{i}': {e}", pr.name)))?;
        }
        if pr.releases.is_empty() && pr.isrcs.is_empty() {
            return Err(at(format!("[[producers]] {}: list the releases or isrcs produced", pr.name)));
        }
        if let (Some(a), Some(b)) = (pr.tracks_produced, pr.tracks_total)
            && (b == 0 || a > b)
        {
            return Err(at(format!("[[producers]] {}: tracks_produced {a} of tracks_total {b} is not a proportion", pr.name)));
        }
    }
    for s in &terms.splits {
        let at = |m: String| err_at(s.span(), m);
        let sp = s.get_ref();
        let sum: Decimal = sp.shares.values().sum();
        if sum != Decimal::ONE_HUNDRED {
            return Err(at(format!("[[splits]] shares sum to {sum}; expected 100")));
        }
        if sp.isrc.is_none() && sp.release.is_none() {
            return Err(at("[[splits]] needs an isrc or a release".into()));
        }
    }
    if let Some(d) = &terms.distribution {
        check_pct(d.get_ref().commission_pct, "[distribution] commission_pct").map_err(|m| err_at(d.span(), m))?;
    }
    for (t, v) in &terms.withholding {
        top(check_territory(t, "[withholding]"))?;
        top(check_pct(*v, &format!("[withholding] {t}")))?;
    }
    if let Some(a) = &terms.audit {
        let at = |m: String| err_at(a.span(), m);
        let au = a.get_ref();
        for (v, what) in [(au.cost_shift_threshold_pct, "cost_shift_threshold_pct"), (au.interest_rate_pct, "interest_rate_pct")] {
            if let Some(v) = v {
                check_pct(v, &format!("[audit] {what}")).map_err(at)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[contract]
id = "t"
payee = "A"
currency = "USD"
"#;

    #[test]
    fn minimal_contract_loads() {
        let c = parse_contract(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.id(), "t");
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let text = format!("{MINIMAL}\n[[royalties]]\nincome_types = [\"stream\"]\nbase = \"net\"\nrate = 20\n");
        let e = parse_contract(&text, "x.toml").unwrap_err();
        assert_eq!((e.line, e.column), (9, 8), "{e}");
        assert!(e.message.contains("unknown variant `net`"), "{e}");
        assert!(e.to_string().starts_with("x.toml:9:8: "), "{e}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        let text = format!("{MINIMAL}rate = 5\n");
        let e = parse_contract(&text, "x.toml").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("unknown field `rate`"), "{e}");
    }

    #[test]
    fn validation_errors_point_at_the_table() {
        let text = format!("{MINIMAL}\n[[royalties]]\nincome_types = [\"streams\"]\nbase = \"net_receipts\"\nrate = 20\n");
        let e = parse_contract(&text, "x.toml").unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("unknown income type 'streams'"), "{e}");
        let text = format!("{MINIMAL}\n[[splits]]\nisrc = \"GBABC2400001\"\nshares = {{ A = 60, B = 30 }}\n");
        let e = parse_contract(&text, "x.toml").unwrap_err();
        assert!(e.message.contains("sum to 90; expected 100"), "{e}");
        let text = format!("{MINIMAL}\n[[royalties]]\nincome_types = [\"stream\"]\nbase = \"net_receipts\"\nrate = \"120\"\n");
        let e = parse_contract(&text, "x.toml").unwrap_err();
        assert!(e.message.contains("between 0 and 100"), "{e}");
    }

    #[test]
    fn decimals_exact_from_strings_integers_and_floats() {
        let text = format!("{MINIMAL}\n[[royalties]]\nincome_types = [\"stream\"]\nbase = \"net_receipts\"\nrate = 18.5\ntrritory_factors = {{}}\n");
        assert!(parse_contract(&text, "x").is_err());
        let text = format!("{MINIMAL}\n[[royalties]]\nincome_types = [\"stream\"]\nbase = \"net_receipts\"\nrate = 18.35\nfree_goods_pct = \"15\"\ncontainer_pct = 0\n");
        let c = parse_contract(&text, "x").unwrap();
        let t = c.terms.royalties[0].get_ref();
        assert_eq!(t.rate.to_string(), "18.35");
        assert_eq!(t.free_goods_pct.unwrap().to_string(), "15");
    }
}
