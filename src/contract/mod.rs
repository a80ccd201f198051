//! Contract terms: the TOML language (`model`), loading with file:line:column errors and
//! validation (`load`), and the lookups the engine uses (this module).

mod decimal;
pub mod describe;
pub mod load;
pub mod model;

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::ledger::ids::gtin14;
use crate::ledger::{Currency, IncomeType, LedgerLine, Territory};
pub use load::{load_contract, parse_contract, ContractError};
pub use model::*;

/// A loaded, validated contract with its lookups.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Where it was read from (as given), for clause references.
    pub path: String,
    pub terms: ContractFile,
    pub currency: Currency,
    line_starts: Vec<usize>,
    /// ISRC → track index.
    tracks_by_isrc: BTreeMap<String, usize>,
    /// GTIN-14 → release index.
    releases_by_gtin: BTreeMap<String, usize>,
    releases_by_id: BTreeMap<String, usize>,
    /// Territory code → group name.
    group_of: BTreeMap<String, String>,
    /// FX reference rates, when the contract names a file: (currency, date) → units per EUR.
    pub fx_rates: Option<crate::engine::fx_rates::FxTable>,
}

/// Name of the group for territories no group lists.
pub const REST_OF_WORLD: &str = "rest_of_world";
pub const HOME: &str = "home";

impl Contract {
    pub(crate) fn new(path: &str, text: &str, terms: ContractFile, currency: Currency) -> Contract {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut tracks_by_isrc = BTreeMap::new();
        for (i, t) in terms.tracks.iter().enumerate() {
            tracks_by_isrc.insert(normal_isrc(&t.get_ref().isrc), i);
        }
        let mut releases_by_gtin = BTreeMap::new();
        let mut releases_by_id = BTreeMap::new();
        for (i, r) in terms.releases.iter().enumerate() {
            let r = r.get_ref();
            releases_by_id.insert(r.id.clone(), i);
            if let Some(upc) = &r.upc {
                releases_by_gtin.insert(gtin14(&normal_upc(upc)), i);
            }
        }
        let mut group_of = BTreeMap::new();
        for (name, codes) in &terms.territories.groups {
            for c in codes {
                group_of.insert(territory_code(c), name.clone());
            }
        }
        for c in &terms.territories.home {
            group_of.insert(territory_code(c), HOME.to_string());
        }
        Contract {
            path: path.to_string(),
            terms,
            currency,
            line_starts,
            tracks_by_isrc,
            releases_by_gtin,
            releases_by_id,
            group_of,
            fx_rates: None,
        }
    }

    pub fn id(&self) -> &str {
        &self.terms.contract.id
    }

    /// 1-based line of a byte offset in the contract file.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    /// "contracts/x.toml:23" for a spanned table.
    pub fn at(&self, span: Range<usize>) -> String {
        format!("{}:{}", self.path, self.line_of(span.start))
    }

    /// The clause reference of a royalty term: its id or position, the agreement's clause
    /// label when given, and the line in the contract file.
    pub fn term_clause(&self, index: usize) -> String {
        let t = &self.terms.royalties[index];
        let term = t.get_ref();
        let name = term.id.clone().unwrap_or_else(|| format!("royalties[{}]", index + 1));
        match &term.clause {
            Some(c) => format!("{name} ({c}) at {}", self.at(t.span())),
            None => format!("{name} at {}", self.at(t.span())),
        }
    }

    pub fn section_clause(&self, name: &str, span: Range<usize>) -> String {
        format!("{name} at {}", self.at(span))
    }

    /// The group a territory belongs to; `None` territory or an unlisted one is rest of world.
    /// The territory groups, for rolling sales rows up by group.
    pub fn territory_groups(&self) -> crate::import::TerritoryGroups {
        crate::import::TerritoryGroups { of: self.group_of.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), default: REST_OF_WORLD.to_string() }
    }

    /// The territory group of a ledger line (a rolled-up line may carry only the group).
    pub fn line_territory_group<'a>(&'a self, line: &'a LedgerLine) -> &'a str {
        match &line.territory_group {
            Some(g) if line.territory.is_none() => g,
            _ => self.territory_group(line.territory.as_ref()),
        }
    }

    pub fn territory_group(&self, territory: Option<&Territory>) -> &str {
        territory.and_then(|t| self.group_of.get(t.code())).map_or(REST_OF_WORLD, String::as_str)
    }

    pub fn track(&self, isrc: &str) -> Option<&Track> {
        self.tracks_by_isrc.get(isrc).map(|&i| self.terms.tracks[i].get_ref())
    }

    pub fn release(&self, id: &str) -> Option<&Release> {
        self.releases_by_id.get(id).map(|&i| self.terms.releases[i].get_ref())
    }

    pub fn release_by_upc(&self, upc: &str) -> Option<&Release> {
        self.releases_by_gtin.get(&gtin14(&normal_upc(upc))).map(|&i| self.terms.releases[i].get_ref())
    }

    /// The release a line belongs to: by UPC, else through its track.
    pub fn release_of(&self, line: &LedgerLine) -> Option<&Release> {
        if let Some(r) = line.upc.as_deref().and_then(|u| self.release_by_upc(u)) {
            return Some(r);
        }
        let track = line.isrc.as_deref().and_then(|i| self.track(i))?;
        self.release(track.release.as_deref()?)
    }

    /// The contract account a line's income or charge belongs to.
    pub fn account_of(&self, line: &LedgerLine) -> Option<String> {
        if let Some(t) = line.isrc.as_deref().and_then(|i| self.track(i))
            && let Some(a) = &t.account
        {
            return Some(a.clone());
        }
        if let Some(r) = self.release_of(line)
            && let Some(a) = &r.account
        {
            return Some(a.clone());
        }
        if let Some(stated) = &line.account {
            for a in &self.terms.accounts {
                if a.get_ref().statement_accounts.iter().any(|s| s == stated) {
                    return Some(a.get_ref().id.clone());
                }
            }
        }
        self.terms.accounts.first().map(|a| a.get_ref().id.clone())
    }

    /// Whether a label statement line belongs to this contract (by its account number).
    pub fn owns_statement_account(&self, stated: Option<&str>) -> bool {
        // (Asked of every line of a large statement: the listed accounts are walked, not
        // collected.)
        let mut listed = self.terms.accounts.iter().flat_map(|a| a.get_ref().statement_accounts.iter()).peekable();
        match stated {
            _ if listed.peek().is_none() => true,
            None => true,
            Some(s) => listed.any(|l| l.as_str() == s),
        }
    }

    /// The first royalty term that matches the line's income type, configuration, channel,
    /// price category and date.
    pub fn term_for(
        &self,
        income_type: Option<IncomeType>,
        configuration: Option<&str>,
        channel: Option<&str>,
        price_category: Option<&str>,
        date: Option<NaiveDate>,
    ) -> Option<usize> {
        let it = income_type.map(income_type_name).unwrap_or("other");
        self.terms.royalties.iter().position(|t| {
            let t = t.get_ref();
            let listed = |list: &[String], v: Option<&str>| {
                list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v.trim())))
            };
            t.income_types.iter().any(|x| x == it)
                && listed(&t.configurations, configuration)
                && listed(&t.channels, channel)
                && listed(&t.price_categories, price_category)
                && date.is_none_or(|d| t.from.is_none_or(|f| d >= f) && t.to.is_none_or(|e| d <= e))
        })
    }

    /// Territory factor (as a fraction) of a term for a group; 100% when the term lists none.
    pub fn factor(&self, term: &RoyaltyTerm, group: &str) -> Option<Decimal> {
        if term.territory_factors.is_empty() {
            return Some(Decimal::ONE);
        }
        term.territory_factors
            .get(group)
            .or_else(|| term.territory_factors.get(REST_OF_WORLD))
            .map(|p| pct(*p))
    }

    pub fn audit(&self) -> Option<&AuditClause> {
        self.terms.audit.as_ref().map(|a| a.get_ref())
    }

    pub fn recoupable_pct(&self, kind: &str) -> Option<Decimal> {
        self.terms.recoupable.as_ref().and_then(|r| r.get_ref().0.get(kind).copied())
    }
}

pub fn income_type_name(t: IncomeType) -> &'static str {
    match t {
        IncomeType::Stream => "stream",
        IncomeType::Download => "download",
        IncomeType::Physical => "physical",
        IncomeType::Sync => "sync",
        IncomeType::Video => "video",
        IncomeType::Neighbouring => "neighbouring",
        IncomeType::Other => "other",
    }
}

fn normal_isrc(s: &str) -> String {
    crate::ledger::ids::parse_isrc(s).unwrap_or_else(|_| s.to_string())
}

fn normal_upc(s: &str) -> String {
    crate::ledger::ids::parse_upc(s).unwrap_or_else(|_| s.to_string())
}

fn territory_code(s: &str) -> String {
    Territory::parse(s).map(|t| t.code().to_string()).unwrap_or_else(|| s.to_uppercase())
}

