//! Statement profiles: how one statement format maps onto the ledger, as data
//! (`rules/statements/*.toml`, in the spirit of hledger's CSV rules files). The bundled
//! profiles are compiled into the binary; `--profiles DIR` adds or replaces them from disk.
//! The format is documented in docs/profiles.md.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use super::cells::NumberFormat;
use crate::ledger::{IncomeType, LineKind, StatementKind};

/// Profiles shipped with the tool: (file name, TOML text).
pub const BUNDLED: &[(&str, &str)] = &[
    ("bandcamp.toml", include_str!("../../rules/statements/bandcamp.toml")),
    ("cdbaby.toml", include_str!("../../rules/statements/cdbaby.toml")),
    ("ddex-dsr.toml", include_str!("../../rules/statements/ddex-dsr.toml")),
    ("distrokid.toml", include_str!("../../rules/statements/distrokid.toml")),
    ("generic-dsp.toml", include_str!("../../rules/statements/generic-dsp.toml")),
    ("label-statement.toml", include_str!("../../rules/statements/label-statement.toml")),
    ("tunecore.toml", include_str!("../../rules/statements/tunecore.toml")),
];

/// Ledger fields a profile may fill from a column or a constant.
pub const FIELDS: &[&str] = &[
    "account", "payee", "sale_period", "sale_period_start", "sale_period_end",
    "accounting_period", "reporting_date", "store", "offering", "territory", "isrc", "upc",
    "iswc", "title", "release_title", "artist", "income_type", "sale_type", "channel", "price_category", "units",
    "free_units", "container_pct", "unit_price", "gross", "fees", "taxes", "net", "split_pct", "royalty_rate", "royalty",
    "amount", "currency", "original_amount", "original_currency", "fx_rate", "charge_kind",
    "line_kind", "reference", "description",
];

/// Fields holding money or quantities.
pub const DECIMAL_FIELDS: &[&str] = &[
    "units", "free_units", "container_pct", "unit_price", "gross", "fees", "taxes", "net", "split_pct", "royalty_rate",
    "royalty", "amount", "original_amount", "fx_rate",
];

/// Fields whose text may be mapped to a canonical value with `[values.FIELD]`.
const VALUE_FIELDS: &[&str] = &["income_type", "line_kind", "charge_kind", "offering"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    /// Rows and columns (CSV/TSV or a workbook sheet) with a header row.
    #[default]
    Table,
    /// DDEX DSR flat file (record blocks), read by code.
    Dsrf,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DetectSpec {
    #[serde(default)]
    require: Vec<String>,
    file_name: Option<String>,
    header_search_rows: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NumbersSpec {
    decimal_separator: Option<String>,
    /// Fields whose plain numbers are percentages (100 = 100%) rather than fractions.
    #[serde(default)]
    percent_fields: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DatesSpec {
    format: Option<String>,
    period_format: Option<String>,
    /// 1900 (default) or 1904: the Excel date system for numeric date cells in text files.
    date_system: Option<u16>,
    /// Truncate a sale date to its month ("month") or keep the day ("day", default).
    sale_period_unit: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RowsSpec {
    #[serde(default)]
    required: Vec<String>,
    total: Option<String>,
    subtotal: Option<String>,
    #[serde(default)]
    skip: Vec<String>,
    /// Fields compared with the figures on total rows (default: net, units).
    control_fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileSpec {
    name: String,
    title: String,
    statement_kind: String,
    #[serde(default)]
    reader: ReaderKind,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    detect: DetectSpec,
    #[serde(default)]
    columns: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    constants: BTreeMap<String, String>,
    #[serde(default)]
    numbers: NumbersSpec,
    #[serde(default)]
    dates: DatesSpec,
    #[serde(default)]
    rows: RowsSpec,
    /// Field → canonical value → patterns, in file order (first match wins).
    #[serde(default)]
    values: BTreeMap<String, toml::Table>,
}

/// One header alias: exact text (compared case- and space-insensitively) or a regex.
#[derive(Debug, Clone)]
pub enum Alias {
    Exact(String),
    Pattern(Regex),
}

impl Alias {
    /// Whether a header cell (as written, and as [`normalise_header`] gives it: the caller
    /// normalises a cell once, not once per alias tried on it) is this alias.
    pub fn matches(&self, header: &str, normalised: &str) -> bool {
        match self {
            Alias::Exact(a) => a == normalised,
            Alias::Pattern(re) => re.is_match(header.trim()),
        }
    }
}

/// Lower-case, trimmed, inner whitespace collapsed.
pub fn normalise_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    for word in h.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_ascii() {
        out.make_ascii_lowercase();
        out
    } else {
        out.to_lowercase()
    }
}

/// A loaded, checked profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Distinct for every profile loaded in this process (keys the per-thread memo of
    /// [`Profile::map_value`]; a clone shares it, and its patterns).
    pub id: u64,
    pub name: String,
    pub title: String,
    pub statement_kind: StatementKind,
    pub reader: ReaderKind,
    pub priority: i32,
    pub origin: String,
    pub require: Vec<String>,
    pub file_name: Option<Regex>,
    pub header_search_rows: usize,
    /// Field → aliases, in the order fields are listed in `FIELDS`.
    pub columns: Vec<(String, Vec<Alias>)>,
    pub constants: BTreeMap<String, String>,
    pub number_format: NumberFormat,
    pub percent_fields: Vec<String>,
    pub date_format: Option<String>,
    pub period_format: Option<String>,
    pub date_1904: bool,
    pub sale_period_by_month: bool,
    pub required: Vec<String>,
    pub total: Option<Regex>,
    pub subtotal: Option<Regex>,
    pub skip: Vec<Regex>,
    pub control_fields: Vec<String>,
    /// Field → (canonical value, patterns).
    pub values: BTreeMap<String, Vec<(String, Vec<Regex>)>>,
}

fn compile(pattern: &str, what: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("{what}: invalid regex '{pattern}': {e}"))
}

fn check_field(field: &str, what: &str) -> Result<(), String> {
    if FIELDS.contains(&field) {
        Ok(())
    } else {
        Err(format!("{what}: unknown ledger field '{field}' (known: {})", FIELDS.join(", ")))
    }
}

impl Profile {
    /// Parse and check a profile; `origin` names where it came from in messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, String> {
        let spec: ProfileSpec = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let at = |what: &str| format!("{origin}: {what}");
        let statement_kind = StatementKind::from_name(&spec.statement_kind).ok_or_else(|| {
            at(&format!(
                "statement_kind '{}' is not one of {}",
                spec.statement_kind,
                StatementKind::NAMES.join(", ")
            ))
        })?;
        for field in spec.columns.keys() {
            check_field(field, &at("[columns]"))?;
        }
        for (field, value) in &spec.constants {
            check_field(field, &at("[constants]"))?;
            match field.as_str() {
                "line_kind" if LineKind::from_name(value).is_none() => {
                    return Err(at(&format!("[constants] line_kind '{value}' is not one of {}", LineKind::NAMES.join(", "))));
                }
                "income_type" if IncomeType::from_name(value).is_none() => {
                    return Err(at(&format!("[constants] income_type '{value}' is not one of {}", IncomeType::NAMES.join(", "))));
                }
                "currency" if crate::ledger::Currency::parse(value).is_none() => {
                    return Err(at(&format!("[constants] currency '{value}' is not an ISO 4217 code")));
                }
                _ => {}
            }
        }
        for field in spec.detect.require.iter().chain(&spec.rows.required).chain(&spec.numbers.percent_fields) {
            check_field(field, &at("field list"))?;
        }
        let mut columns = Vec::new();
        for field in FIELDS {
            if let Some(aliases) = spec.columns.get(*field) {
                let mut compiled = Vec::new();
                for a in aliases {
                    compiled.push(match a.strip_prefix("re:") {
                        Some(p) => Alias::Pattern(compile(&format!("(?i){p}"), &at(&format!("[columns] {field}")))?),
                        None => Alias::Exact(normalise_header(a)),
                    });
                }
                columns.push((field.to_string(), compiled));
            }
        }
        for field in &spec.detect.require {
            if !spec.columns.contains_key(field) {
                return Err(at(&format!("[detect] requires '{field}' but [columns] has no aliases for it")));
            }
        }
        let mut values = BTreeMap::new();
        for (field, table) in &spec.values {
            if !VALUE_FIELDS.contains(&field.as_str()) {
                return Err(at(&format!("[values.{field}]: only {} can be mapped", VALUE_FIELDS.join(", "))));
            }
            let mut entries = Vec::new();
            for (canonical, patterns) in table {
                let patterns: Vec<String> = match patterns {
                    toml::Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<_>>(),
                    toml::Value::String(s) => Some(vec![s.clone()]),
                    _ => None,
                }
                .ok_or_else(|| at(&format!("[values.{field}] {canonical}: expected a list of patterns")))?;
                let valid = match field.as_str() {
                    "line_kind" => LineKind::from_name(canonical).is_some(),
                    "income_type" => IncomeType::from_name(canonical).is_some(),
                    _ => true,
                };
                if !valid {
                    return Err(at(&format!("[values.{field}]: '{canonical}' is not a {field}")));
                }
                let res = patterns
                    .iter()
                    .map(|p| compile(&format!("(?i){p}"), &at(&format!("[values.{field}]"))))
                    .collect::<Result<Vec<_>, _>>()?;
                entries.push((canonical.clone(), res));
            }
            values.insert(field.clone(), entries);
        }
        let decimal = match spec.numbers.decimal_separator.as_deref() {
            None | Some(".") => '.',
            Some(",") => ',',
            Some(other) => return Err(at(&format!("[numbers] decimal_separator '{other}' must be '.' or ','"))),
        };
        let date_1904 = match spec.dates.date_system {
            None | Some(1900) => false,
            Some(1904) => true,
            Some(other) => return Err(at(&format!("[dates] date_system {other} must be 1900 or 1904"))),
        };
        let sale_period_by_month = match spec.dates.sale_period_unit.as_deref() {
            None | Some("day") => false,
            Some("month") => true,
            Some(other) => return Err(at(&format!("[dates] sale_period_unit '{other}' must be 'day' or 'month'"))),
        };
        let control_fields = spec.rows.control_fields.clone().unwrap_or_else(|| vec!["net".into(), "units".into()]);
        for f in &control_fields {
            if !DECIMAL_FIELDS.contains(&f.as_str()) {
                return Err(at(&format!("[rows] control_fields: '{f}' is not a money or quantity field")));
            }
        }
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Profile {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            name: spec.name,
            title: spec.title,
            statement_kind,
            reader: spec.reader,
            priority: spec.priority,
            origin: origin.to_string(),
            require: spec.detect.require,
            file_name: spec.detect.file_name.as_deref().map(|p| compile(p, &at("[detect] file_name"))).transpose()?,
            header_search_rows: spec.detect.header_search_rows.unwrap_or(40),
            columns,
            constants: spec.constants,
            number_format: NumberFormat { decimal },
            percent_fields: spec.numbers.percent_fields,
            date_format: spec.dates.format,
            period_format: spec.dates.period_format,
            date_1904,
            sale_period_by_month,
            required: spec.rows.required,
            total: spec.rows.total.as_deref().map(|p| compile(&format!("(?i){p}"), &at("[rows] total"))).transpose()?,
            subtotal: spec.rows.subtotal.as_deref().map(|p| compile(&format!("(?i){p}"), &at("[rows] subtotal"))).transpose()?,
            skip: spec.rows.skip.iter().map(|p| compile(&format!("(?i){p}"), &at("[rows] skip"))).collect::<Result<_, _>>()?,
            control_fields,
            values,
        })
    }

    pub fn aliases(&self, field: &str) -> Option<&[Alias]> {
        self.columns.iter().find(|(f, _)| f == field).map(|(_, a)| a.as_slice())
    }

    /// Map a text through `[values.FIELD]`; `None` when no pattern matches.
    /// Results are memoised per thread: the same few texts recur on every row of a report.
    pub fn map_value(&self, field: &'static str, text: &str) -> Option<crate::ledger::LineText> {
        let table = self.values.get(field)?;
        let compute = || table.iter().find(|(_, patterns)| patterns.iter().any(|p| p.is_match(text.trim()))).map(|(canonical, _)| canonical.as_str().into());
        crate::import::memo::memoised(self.id, field, text, compute)
    }
}

/// The profiles in force: bundled ones, then those in `dir` (same name replaces).
pub fn load_profiles(dir: Option<&Path>) -> Result<Vec<Profile>, String> {
    let mut profiles = Vec::new();
    for (file, text) in BUNDLED {
        profiles.push(Profile::from_toml(text, &format!("(bundled) rules/statements/{file}"))?);
    }
    if let Some(dir) = dir {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let p = Profile::from_toml(&text, &path.display().to_string())?;
            profiles.retain(|q| q.name != p.name);
            profiles.push(p);
        }
    }
    profiles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_profiles_load() {
        let profiles = load_profiles(None).unwrap();
        assert_eq!(profiles.len(), BUNDLED.len());
        let names: Vec<_> = profiles.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"distrokid") && names.contains(&"ddex-dsr"));
    }

    #[test]
    fn errors_name_the_place() {
        let err = Profile::from_toml("name = \"x\"\ntitle = \"t\"\nstatement_kind = \"shop\"\n", "p.toml").unwrap_err();
        assert!(err.contains("p.toml") && err.contains("statement_kind 'shop'"), "{err}");
        let err = Profile::from_toml("name = \"x\"\ntitle = \"t\"\nstatement_kind = \"dsp\"\n[columns]\nnett = [\"Net\"]\n", "p.toml").unwrap_err();
        assert!(err.contains("unknown ledger field 'nett'"), "{err}");
        let err = Profile::from_toml("name = \"x\"\ntitle = 3\n", "p.toml").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn headers_are_normalised_as_words_in_lower_case() {
        assert_eq!(normalise_header("  Net \t Revenue  "), "net revenue");
        assert_eq!(normalise_header("ÉTAT  Total"), "état total");
        assert_eq!(normalise_header(" \n "), "");
        // An alias written loosely matches headers written loosely, and nothing longer.
        let alias = Alias::Exact(normalise_header("Net Revenue"));
        for (h, want) in [("net revenue", true), (" NET   REVENUE ", true), ("Net\tRevenue", true), ("Net Revenue (USD)", false), ("ÉTAT", false)] {
            assert_eq!(matches(&alias, h), want, "{h}");
        }
    }

    fn matches(alias: &Alias, header: &str) -> bool {
        alias.matches(header, &normalise_header(header))
    }

    #[test]
    fn aliases_match_loosely_or_by_regex() {
        let p = Profile::from_toml(
            "name='x'\ntitle='t'\nstatement_kind='dsp'\n[columns]\nnet=['Net  Revenue', 're:^earnings \\(']\n",
            "p",
        )
        .unwrap();
        let a = p.aliases("net").unwrap();
        assert!(matches(&a[0], " net revenue "));
        assert!(matches(&a[1], "Earnings (USD)"));
        assert!(!matches(&a[0], "net revenue eur"));
    }
}
