//! A statement profile applied to a grid: find the header row, map columns to ledger fields,
//! classify every row (preamble, header, data, blank, repeated header, total, subtotal,
//! section heading, skipped) and turn data rows into ledger lines or rejects.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::cells::{excel_serial_date, parse_date, parse_decimal, parse_period};
use super::grid::{Cell, Row, Sheet, Unterminated};
use super::outcome::{ColumnMapping, ControlCheck, NonData, Reject};
use super::profile::{DECIMAL_FIELDS, FIELDS, Profile, normalise_header};
use crate::ledger::ids::{is_scientific_notation, isrc_text, parse_iswc, parse_upc};
use crate::ledger::{
    Currency, FreeText, IncomeType, LedgerLine, LineDetails, LineFlag, LineKind, LineText, Period, SourceRef, Store, Territory,
};

/// Field → (column index, header text).
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    pub fields: Vec<(String, usize, String)>,
    /// Field → position in `fields` (rows look fields up dozens of times each).
    index: std::collections::HashMap<String, usize, foldhash::fast::FixedState>,
}

impl ColumnMap {
    pub fn get(&self, field: &str) -> Option<(usize, &str)> {
        let (_, i, h) = &self.fields[*self.index.get(field)?];
        Some((*i, h.as_str()))
    }

    /// Map `field` to column `column` headed `header` (the first mapping of a field wins).
    pub fn push(&mut self, field: String, column: usize, header: String) {
        self.index.entry(field.clone()).or_insert(self.fields.len());
        self.fields.push((field, column, header));
    }

    pub fn mappings(&self) -> Vec<ColumnMapping> {
        self.fields
            .iter()
            .map(|(f, i, h)| ColumnMapping { field: f.clone(), column: column_letter(*i), header: h.clone() })
            .collect()
    }
}

/// Spreadsheet column name of a 0-based index (A, B, …, Z, AA…).
pub fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Map a header row's cells to fields with the profile's aliases (first alias that matches
/// a column wins; aliases are tried in the order the profile lists them).
pub fn map_columns(row: &Row, profile: &Profile) -> ColumnMap {
    let headers: Vec<String> = row.cells.iter().map(Cell::display).collect();
    // Normalised once per cell: every alias of every field is tried on every cell, for each
    // row searched and each profile tried in detection.
    let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    let mut map = ColumnMap::default();
    for (field, aliases) in &profile.columns {
        'alias: for alias in aliases {
            for (i, (h, n)) in headers.iter().zip(&normalised).enumerate() {
                if !h.is_empty() && alias.matches(h, n) {
                    map.push(field.clone(), i, h.clone());
                    break 'alias;
                }
            }
        }
    }
    map
}

/// The first row (within the profile's search window) that has every required column.
pub fn find_header(sheet: &Sheet, profile: &Profile) -> Option<(usize, ColumnMap)> {
    sheet.rows.iter().take(profile.header_search_rows).enumerate().find_map(|(i, row)| {
        let map = map_columns(row, profile);
        let complete = !profile.require.is_empty()
            && profile.require.iter().all(|f| map.get(f).is_some());
        complete.then_some((i, map))
    })
}

/// What one sheet produced.
#[derive(Debug, Default)]
pub struct SheetResult {
    pub lines: Vec<LedgerLine>,
    pub rejects: Vec<Reject>,
    pub nondata: Vec<NonData>,
    pub controls: Vec<ControlCheck>,
    pub notes: Vec<String>,
    pub columns: Vec<ColumnMapping>,
}

/// Values read from the control columns of a data row (for footing checks).
#[derive(Debug, Clone, Default)]
pub struct RowFigures {
    pub currency: Option<Currency>,
    /// (column, value) of the control columns the row fills: a few, kept inline (every row
    /// read by the full reader has them, and a heap allocation each cost more).
    pub by_column: smallvec::SmallVec<[(usize, Decimal); 4]>,
}

/// What one row after the header is.
pub enum RowOutcome {
    /// Not ledger data: blank, repeated header, skipped, section heading…
    NonData(String),
    /// A total (`true`) or subtotal (`false`) row: its figures are control totals.
    Total(bool),
    /// A data row: read into the caller's line (`Ok`) or rejected, and its control-column
    /// figures.
    Data(Result<(), Box<Reject>>, RowFigures),
}

/// Everything needed to read the rows below a header row, one at a time. Shared by the
/// sheet importer and the streaming importer, so both classify and parse rows alike.
pub struct SheetReader<'a> {
    /// Interned once, copied into the source of every row read.
    pub file: LineText,
    pub sheet_name: Option<LineText>,
    pub date_1904: bool,
    pub profile: &'a Profile,
    pub map: &'a ColumnMap,
    pub header_width: usize,
    header_texts: Vec<String>,
    pub control_columns: Vec<(String, usize)>,
    /// Where each ledger field is read from (by position in [`FIELDS`]).
    slots: Vec<FieldSlot>,
    profile_name: LineText,
}

impl<'a> SheetReader<'a> {
    pub fn new(file: &str, sheet_name: Option<&str>, date_1904: bool, profile: &'a Profile, header_row: &Row, map: &'a ColumnMap) -> Self {
        let control_columns = profile.control_fields.iter().filter_map(|f| map.get(f).map(|(i, _)| (f.clone(), i))).collect();
        SheetReader {
            file: file.into(),
            sheet_name: sheet_name.map(LineText::from),
            date_1904,
            profile,
            map,
            header_width: header_row.width(),
            header_texts: header_row.cells.iter().map(|c| c.display().to_lowercase()).collect(),
            control_columns,
            slots: field_slots(profile, map),
            profile_name: profile.name.as_str().into(),
        }
    }

    pub fn source(&self, row: u64) -> SourceRef {
        SourceRef { file: self.file, sheet: self.sheet_name, row, column: None }
    }

    /// The header text of a column, lower-cased.
    pub fn header_text(&self, column: usize) -> Option<&str> {
        self.header_texts.get(column).map(String::as_str)
    }

    /// Labels that classify a row: its first three non-empty text cells.
    fn labels(row: &Row) -> impl Iterator<Item = &str> {
        row.cells
            .iter()
            .filter_map(|c| match c {
                Cell::Text(t) if !super::grid::trim(t).is_empty() => Some(super::grid::trim(t)),
                _ => None,
            })
            .take(3)
    }

    /// Whether a label marks a total, subtotal or skipped row.
    pub fn is_row_label(&self, label: &str) -> bool {
        self.label_class(label).is_some()
    }

    /// What a label marks: `"subtotal"`, `"total"`, or `"skip N"` (the profile's Nth skip
    /// pattern); `None` for an ordinary text. Memoised per thread (labels repeat).
    fn label_class(&self, label: &str) -> Option<LineText> {
        let p = self.profile;
        super::memo::memoised(p.id, "#row label", label, || {
            if p.subtotal.as_ref().is_some_and(|re| re.is_match(label)) {
                Some("subtotal".into())
            } else if p.total.as_ref().is_some_and(|re| re.is_match(label)) {
                Some("total".into())
            } else {
                p.skip.iter().position(|re| re.is_match(label)).map(|i| format!("skip {i}").into())
            }
        })
    }

    /// Classify a row below the header and, for a data row, parse it: its line is read into
    /// `line` (built where it lies: a line is large, and handing it back through results
    /// and a box moved it five times a row).
    pub fn read(&self, row: &Row, line: &mut Option<LedgerLine>) -> RowOutcome {
        let map = self.map;
        let profile = self.profile;
        // (One pass over the cells counts them for the blank test and the heading test below.)
        let non_empty = row.cells.iter().filter(|c| !c.is_empty()).count();
        if non_empty == 0 {
            return RowOutcome::NonData("blank row".into());
        }
        let repeats_header = map.fields.iter().all(|(_, i, _)| {
            let text = row.cell(*i).shown();
            let header = self.header_texts.get(*i).map(String::as_str);
            match header {
                None => false,
                // ASCII text compares without allocating.
                Some(h) if h.is_ascii() && text.is_ascii() => h.eq_ignore_ascii_case(&text),
                Some(h) => text.to_lowercase() == h,
            }
        });
        if repeats_header {
            return RowOutcome::NonData("repeated header".into());
        }
        // One pass over the labels: a subtotal label wins over a total label; the first skip
        // pattern (in profile order) any label matches is the smallest of their classes
        // (each label's class names the first pattern it matches).
        let (mut labels, mut is_subtotal, mut is_total, mut first_skip) = (0usize, false, false, None::<usize>);
        for label in Self::labels(row) {
            labels += 1;
            match self.label_class(label).as_deref() {
                Some("subtotal") => is_subtotal = true,
                Some("total") => is_total = true,
                Some(class) => {
                    if let Some(i) = class.strip_prefix("skip ").and_then(|n| n.parse::<usize>().ok()) {
                        first_skip = Some(first_skip.map_or(i, |f| f.min(i)));
                    }
                }
                None => {}
            }
        }
        if is_total || is_subtotal {
            return RowOutcome::Total(!is_subtotal);
        }
        if let Some(re) = first_skip.and_then(|i| profile.skip.get(i)) {
            return RowOutcome::NonData(format!("skipped by profile ({})", re.as_str().trim_start_matches("(?i)")));
        }
        // (Whether the row has figures is asked last: it looks up the money columns by name.)
        let has_figures = || DECIMAL_FIELDS.iter().any(|f| map.get(f).is_some_and(|(i, _)| !row.cell(i).is_empty()));
        if non_empty == 1 && labels == 1 && row.unterminated.is_none() && !has_figures() {
            return RowOutcome::NonData("section heading or note".into());
        }
        let (mut result, figures) = parse_row(self, row, line);
        if result.is_ok() && line.is_none() {
            // (Never: a line read is in `line`; a row that gave none is not lost unseen.)
            let reason = "internal error: the row was read but gave no ledger line".into();
            result = Err(Reject { source: self.source(row.number), reason, currency: figures.currency, amounts: BTreeMap::new() });
        }
        RowOutcome::Data(result.map_err(Box::new), figures)
    }
}

/// Apply `profile` to one sheet whose header row is `header_at` with columns `map`.
pub fn import_sheet(file: &str, sheet: &Sheet, profile: &Profile, header_at: usize, map: &ColumnMap) -> SheetResult {
    let mut out = SheetResult { columns: map.mappings(), ..Default::default() };
    let reader = SheetReader::new(file, sheet.name.as_deref(), sheet.date_1904, profile, &sheet.rows[header_at], map);
    let mut line = None;
    // Figures of every data row (imported or rejected), in order, for total checks.
    let mut figures: Vec<RowFigures> = Vec::new();
    let mut section_start = 0usize;

    for (idx, row) in sheet.rows.iter().enumerate() {
        let source = reader.source(row.number);
        if idx < header_at {
            out.nondata.push(NonData { source, reason: "preamble".into() });
            continue;
        }
        if idx == header_at {
            out.nondata.push(NonData { source, reason: "header".into() });
            continue;
        }
        match reader.read(row, &mut line) {
            RowOutcome::NonData(reason) => out.nondata.push(NonData { source, reason }),
            RowOutcome::Total(is_total) => {
                let covered = if is_total { &figures[..] } else { &figures[section_start..] };
                check_totals(&reader, row, covered, &mut out.controls);
                if !is_total {
                    section_start = figures.len();
                }
                let reason = if is_total { "total row" } else { "subtotal row" };
                out.nondata.push(NonData { source, reason: reason.into() });
            }
            RowOutcome::Data(result, row_figures) => {
                figures.push(row_figures);
                match (result, line.take()) {
                    (Ok(()), Some(line)) => {
                        if line.flags.contains(&LineFlag::NoLineTerminator) {
                            out.notes.push(format!(
                                "row {}: last line has no line terminator; if the file was cut short its last value may be incomplete",
                                row.number
                            ));
                        }
                        out.lines.push(line);
                    }
                    (Err(reject), _) => out.rejects.push(*reject),
                    // (`read` makes a row without a line a reject.)
                    (Ok(()), None) => {}
                }
            }
        }
    }
    out
}

/// Compare a total row's figures with the sum of the data rows it covers.
pub fn check_totals(reader: &SheetReader<'_>, row: &Row, covered: &[RowFigures], controls: &mut Vec<ControlCheck>) {
    let (profile, map, control_columns) = (reader.profile, reader.map, &reader.control_columns);
    let row_currency = map
        .get("currency")
        .and_then(|(i, _)| Currency::parse(&row.cell(i).display()))
        .or_else(|| profile.constants.get("currency").and_then(|c| Currency::parse(c)));
    let currencies: std::collections::BTreeSet<Currency> = covered.iter().filter_map(|f| f.currency).collect();
    let currency = row_currency.or_else(|| if currencies.len() == 1 { currencies.iter().next().copied() } else { None });
    for (field, col) in control_columns {
        let cell = row.cell(*col);
        let stated = match cell {
            Cell::Number(d) => *d,
            Cell::Text(t) if !t.trim().is_empty() => match parse_decimal(t, profile.number_format) {
                Ok(d) => d,
                Err(_) => continue,
            },
            _ => continue,
        };
        let source = reader.source(row.number).with_column(column_letter(*col));
        if field == "units" {
            // Quantities add up across currencies.
            let computed: Decimal = covered
                .iter()
                .flat_map(|f| f.by_column.iter().filter(|(c, _)| c == col).map(|(_, v)| *v))
                .sum();
            controls.push(ControlCheck {
                source,
                field: field.clone(),
                currency: None,
                stated,
                computed: Some(computed),
                ok: Some(computed == stated),
                note: None,
            });
            continue;
        }
        let Some(currency) = currency else {
            controls.push(ControlCheck {
                source,
                field: field.clone(),
                currency: None,
                stated,
                computed: None,
                ok: None,
                note: Some("the rows it covers are in several currencies and the total row names none".into()),
            });
            continue;
        };
        let computed: Decimal = covered
            .iter()
            .filter(|f| f.currency == Some(currency) || f.currency.is_none() && currencies.is_empty())
            .flat_map(|f| f.by_column.iter().filter(|(c, _)| c == col).map(|(_, v)| *v))
            .sum();
        let rounded = computed.round_dp_with_strategy(stated.scale(), rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        controls.push(ControlCheck {
            source,
            field: field.clone(),
            currency: Some(currency),
            stated,
            computed: Some(computed),
            ok: Some(rounded == stated),
            note: None,
        });
    }
}

/// Why a cell cannot be used at all (error values, formulas without results).
fn unusable(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Error(e) => Some(format!("cell holds the error value {e}")),
        Cell::Refused(r) => Some(r.clone()),
        Cell::FormulaWithoutValue(f) => Some(format!("formula ={f} has no saved result (recalculate and save the workbook)")),
        _ => None,
    }
}

/// Position of `name` in [`FIELDS`]; `None` for a name that is no ledger field.
const fn field_index(name: &str) -> Option<usize> {
    let mut i = 0;
    while i < FIELDS.len() {
        let (a, b) = (FIELDS[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// The ledger field `$name` (a literal) as its position in [`FIELDS`], found when the
/// program is compiled (an unknown name does not compile).
macro_rules! field {
    ($name:literal) => {
        const {
            match field_index($name) {
                Some(i) => i,
                None => panic!(concat!("no ledger field ", $name)),
            }
        }
    };
}

/// Where a sheet's rows hold one ledger field, worked out once per sheet: rows read each
/// of the ~40 fields, and a lookup by name per field and row cost more than the reading.
#[derive(Debug, Clone, Default)]
struct FieldSlot {
    /// The mapped column.
    column: Option<usize>,
    /// The profile's constant, used when the column is absent or empty.
    constant: Option<Cell>,
    /// Written as a percent (divided by 100 when read).
    percent: bool,
}

fn field_slots(profile: &Profile, map: &ColumnMap) -> Vec<FieldSlot> {
    FIELDS
        .iter()
        .map(|f| FieldSlot {
            column: map.get(f).map(|(i, _)| i),
            constant: profile.constants.get(f.to_owned()).map(|c| Cell::Text(c.clone())),
            percent: profile.percent_fields.iter().any(|p| p == f),
        })
        .collect()
}

/// A row being read into a ledger line; fields are positions in [`FIELDS`] (see [`field!`]).
struct RowReader<'a> {
    row: &'a Row,
    profile: &'a Profile,
    map: &'a ColumnMap,
    slots: &'a [FieldSlot],
    /// The profile's name, as every line of the sheet carries it.
    profile_name: LineText,
    date_1904: bool,
    base: SourceRef,
    /// Cells of the row's control columns written as plain numbers, and their numbers (read
    /// for the row's control figures already).
    plain: &'a [(usize, Decimal)],
}

/// (column, reason). Boxed: every field a row reads returns a `Result` with it, and a
/// pair of Strings inline made each of them ~56 bytes to move about (~10% of the full
/// reader's time went to that).
type CellError = Box<(String, String)>;

impl RowReader<'_> {
    fn column_name(&self, field: usize) -> String {
        self.column_name_of(FIELDS.get(field).copied().unwrap_or_default())
    }

    fn column_name_of(&self, field: &str) -> String {
        match self.map.get(field) {
            Some((i, h)) => format!("{} ({h})", column_letter(i)),
            None => format!("[constants] {field}"),
        }
    }

    fn err(&self, field: usize, reason: String) -> CellError {
        Box::new((self.column_name(field), reason))
    }

    /// The cell mapped to `field`, or the profile constant when the column is absent or
    /// empty. `Ok(None)` when neither holds a value.
    /// (Inlined: returned through memory, its large result cost more than the lookup.)
    #[inline(always)]
    fn cell(&self, field: usize) -> Result<Option<&Cell>, CellError> {
        let Some(slot) = self.slots.get(field) else { return Ok(None) };
        if let Some(i) = slot.column {
            let cell = self.row.cell(i);
            if let Some(why) = unusable(cell) {
                return Err(self.err(field, why));
            }
            if !cell.is_empty() {
                return Ok(Some(cell));
            }
        }
        Ok(slot.constant.as_ref())
    }

    /// Whether `field` has neither a column nor a constant in this sheet (most of the ~40
    /// fields, for a given profile). Readers answer those without a call: a row reads every
    /// field, and the calls for absent ones had been about a fifth of the full reader's
    /// instructions.
    #[inline(always)]
    fn absent(&self, field: usize) -> bool {
        self.slots.get(field).is_none_or(|s| s.column.is_none() && s.constant.is_none())
    }

    /// `read(field)`, or `Ok(None)` without a call when the field is [`RowReader::absent`].
    #[inline(always)]
    fn if_present<'s, T>(&'s self, field: usize, read: impl FnOnce(&'s Self, usize) -> Result<Option<T>, CellError>) -> Result<Option<T>, CellError> {
        if self.absent(field) { Ok(None) } else { read(self, field) }
    }

    /// The text of `field` (borrowed from the cell when it is text).
    #[inline(always)]
    fn text(&self, field: usize) -> Result<Option<std::borrow::Cow<'_, str>>, CellError> {
        self.if_present(field, Self::present_text)
    }

    fn present_text(&self, field: usize) -> Result<Option<std::borrow::Cow<'_, str>>, CellError> {
        Ok(match self.cell(field)? {
            Some(Cell::Text(t)) => Some(std::borrow::Cow::Borrowed(t.as_str())),
            Some(c) => Some(std::borrow::Cow::Owned(c.display())),
            None => None,
        }
        .filter(|s| !s.is_empty()))
    }

    /// [`RowReader::text`] as a line's text (copied once, from the cell).
    #[inline(always)]
    fn line_text(&self, field: usize) -> Result<Option<LineText>, CellError> {
        Ok(self.text(field)?.map(|t| crate::ledger::intern(&t)))
    }

    #[inline(always)]
    fn free_text(&self, field: usize) -> Result<Option<FreeText>, CellError> {
        Ok(self.text(field)?.map(|t| FreeText::from(&*t)))
    }

    #[inline(always)]
    fn decimal(&self, field: usize) -> Result<Option<Decimal>, CellError> {
        self.if_present(field, Self::present_decimal)
    }

    fn present_decimal(&self, field: usize) -> Result<Option<Decimal>, CellError> {
        let slot = self.slots.get(field);
        let percent_field = slot.is_some_and(|s| s.percent);
        // A control column's plain number: as `plain_decimal` read it below.
        if let Some(column) = slot.and_then(|s| s.column)
            && let Some(&(_, d)) = self.plain.iter().find(|(c, _)| *c == column)
        {
            return Ok(Some(if percent_field { d / Decimal::ONE_HUNDRED } else { d }));
        }
        match self.cell(field)? {
            None => Ok(None),
            Some(Cell::Number(d)) => Ok(Some(if percent_field { *d / Decimal::ONE_HUNDRED } else { *d })),
            Some(Cell::Text(t)) => {
                // Plainly written numbers (the bulk of large files) skip the general parser.
                if let Some(d) = super::plain_number::plain_decimal(t.as_bytes(), self.profile.number_format.decimal_byte()) {
                    return Ok(Some(if percent_field { d / Decimal::ONE_HUNDRED } else { d }));
                }
                let has_percent = t.trim_end().ends_with('%');
                let d = parse_decimal(t, self.profile.number_format).map_err(|e| self.err(field, e))?;
                Ok(Some(if has_percent || percent_field { d / Decimal::ONE_HUNDRED } else { d }))
            }
            Some(Cell::Date(d)) => Err(self.err(field, format!("a date ({d}) where a number belongs"))),
            Some(other) => Err(self.err(field, format!("'{}' is not a number", other.display()))),
        }
    }

    #[inline(always)]
    fn date(&self, field: usize) -> Result<Option<chrono::NaiveDate>, CellError> {
        self.if_present(field, Self::present_date)
    }

    fn present_date(&self, field: usize) -> Result<Option<chrono::NaiveDate>, CellError> {
        let date_1904 = self.date_1904 || self.profile.date_1904;
        match self.cell(field)? {
            None => Ok(None),
            Some(Cell::Date(d)) => Ok(Some(*d)),
            Some(Cell::Number(n)) => excel_serial_date(*n, date_1904).map(Some).map_err(|e| self.err(field, e)),
            Some(Cell::Text(t)) => match parse_date(t, self.profile.date_format.as_deref()) {
                Ok(d) => Ok(Some(d)),
                Err(e) => {
                    let digits = t.trim();
                    if digits.len() == 5 && digits.chars().all(|c| c.is_ascii_digit()) {
                        let n = Decimal::from(digits.parse::<i64>().unwrap_or(0));
                        excel_serial_date(n, date_1904).map(Some).map_err(|e| self.err(field, e))
                    } else {
                        Err(self.err(field, e))
                    }
                }
            },
            Some(other) => Err(self.err(field, format!("'{}' is not a date", other.display()))),
        }
    }

    #[inline(always)]
    fn period(&self, field: usize) -> Result<Option<Period>, CellError> {
        self.if_present(field, Self::present_period)
    }

    fn present_period(&self, field: usize) -> Result<Option<Period>, CellError> {
        let name = FIELDS.get(field).copied().unwrap_or_default();
        let by_month = self.profile.sale_period_by_month && name.starts_with("sale_period");
        let to_period = |d: chrono::NaiveDate| {
            if by_month {
                Period::month_of(d).unwrap_or(Period::day(d))
            } else {
                Period::day(d)
            }
        };
        match self.cell(field)? {
            None => Ok(None),
            Some(Cell::Text(t)) => {
                // Periods repeat from row to row, and parsing one costs regular expressions.
                let p = super::memo::memoised_period(self.profile.id, name, t, || {
                    if self.profile.period_format.is_some() {
                        parse_period(t, self.profile.period_format.as_deref())
                    } else if let Some(f) = &self.profile.date_format {
                        parse_date(t, Some(f)).map(Period::day).or_else(|_| parse_period(t, None))
                    } else {
                        parse_period(t, None)
                    }
                })
                .map_err(|e| self.err(field, e))?;
                Ok(Some(if p.kind == crate::ledger::PeriodKind::Day { to_period(p.start) } else { p }))
            }
            Some(_) => Ok(self.date(field)?.map(to_period)),
        }
    }
}

/// Read a data row into `line` (left as it was, or partly filled, when the row is rejected).
fn parse_row(sheet: &SheetReader<'_>, row: &Row, line: &mut Option<LedgerLine>) -> (Result<(), Reject>, RowFigures) {
    let (profile, map, header_width, control_columns) = (sheet.profile, sheet.map, sheet.header_width, &sheet.control_columns);
    let base = sheet.source(row.number);
    // The control columns' numbers first: those written plainly are read once, for the row's
    // control figures and for its line.
    let sep = profile.number_format.decimal_byte();
    let mut plain: smallvec::SmallVec<[(usize, Decimal); 4]> = smallvec::SmallVec::new();
    let by_column = control_columns
        .iter()
        .filter_map(|(_, col)| match row.cell(*col) {
            Cell::Number(d) => Some((*col, *d)),
            Cell::Text(t) if !super::grid::trim(t).is_empty() => match super::plain_number::plain_decimal(t.as_bytes(), sep) {
                Some(d) => {
                    plain.push((*col, d));
                    Some((*col, d))
                }
                None => parse_decimal(t, profile.number_format).ok().map(|d| (*col, d)),
            },
            _ => None,
        })
        .collect();
    let reader = RowReader { row, profile, map, slots: &sheet.slots, profile_name: sheet.profile_name, date_1904: sheet.date_1904, base: base.clone(), plain: &plain };
    // Whatever else is wrong, read the money and currency we can, for conservation.
    let currency = reader.text(field!("currency")).ok().flatten().and_then(|c| Currency::parse(&c));
    // The money a rejected row carries (read only for rejects: most rows are not).
    let amounts = || {
        let mut amounts = BTreeMap::new();
        for field in DECIMAL_FIELDS {
            if let Ok(Some(v)) = field_index(field).map_or(Ok(None), |f| reader.decimal(f)) {
                amounts.insert(field.to_string(), v);
            }
        }
        amounts
    };
    let figures = RowFigures { currency, by_column };
    let reject = |column: Option<String>, reason: String| Reject {
        source: match column {
            Some(c) => base.with_column(c),
            None => base.clone(),
        },
        reason,
        currency,
        amounts: amounts(),
    };
    match row.unterminated {
        Some(Unterminated::OpenQuote) => {
            return (Err(reject(None, "last line ends inside a quoted field: the file is cut short".into())), figures);
        }
        Some(Unterminated::NoNewline) if row.cells.len() < header_width => {
            return (
                Err(reject(None, format!(
                    "last line has {} of {} fields and no line terminator: the file is cut short",
                    row.cells.len(),
                    header_width
                ))),
                figures,
            );
        }
        _ => {}
    }
    if row.width() > header_width.max(1) {
        return (
            Err(reject(
                Some(column_letter(row.width() - 1)),
                format!("row has values in {} columns but the header has {}", row.width(), header_width),
            )),
            figures,
        );
    }
    let short = !row.cells.is_empty() && row.cells.len() < header_width && sheet.sheet_name.is_none();
    let result = build_line(&reader, profile, line).map_err(|e| {
        let (column, reason) = *e;
        let reason = if short { format!("{reason} (the row has {} of {} fields)", row.cells.len(), header_width) } else { reason };
        reject(Some(column), reason)
    });
    if result.is_ok()
        && row.unterminated == Some(Unterminated::NoNewline)
        && let Some(line) = line.as_mut()
    {
        line.flags.push(LineFlag::NoLineTerminator);
    }
    (result, figures)
}

/// `text` in snake_case (memoised per thread: the same few texts repeat on every row).
fn snake(text: &str) -> LineText {
    // Owner `0` is no profile's id (they count from 1): snake_case depends on the text alone.
    super::memo::memoised(0, "#snake", text, || Some(snake_uncached(text).into())).unwrap_or_default()
}

fn snake_uncached(text: &str) -> String {
    let s: String = text
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    s.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_")
}

/// Read the row's ledger line into `slot` (`Ok`: the line is there).
fn build_line(r: &RowReader<'_>, profile: &Profile, slot: &mut Option<LedgerLine>) -> Result<(), CellError> {
    let currency_text = r.text(field!("currency"))?;
    let currency = match currency_text {
        Some(t) => Currency::parse(&t).ok_or_else(|| r.err(field!("currency"), format!("'{t}' is not an ISO 4217 currency code")))?,
        None if profile.aliases("currency").is_some() => return Err(r.err(field!("currency"), "required currency is missing".into())),
        None => return Err(r.err(field!("currency"), "no currency (no currency column and no constant in the profile)".into())),
    };
    let kind_text = r.text(field!("line_kind"))?;
    let line_kind = match kind_text.as_deref() {
        None => LineKind::Income,
        Some(t) => profile
            .map_value("line_kind", t)
            .and_then(|k| LineKind::from_name(&k))
            .or_else(|| LineKind::from_name(&snake(t)))
            .ok_or_else(|| r.err(field!("line_kind"), format!("unknown line type '{t}'")))?,
    };
    let line = slot.insert(LedgerLine::new(r.base.clone(), r.profile_name, profile.statement_kind, line_kind, currency));
    line.account = r.line_text(field!("account"))?;
    line.payee = r.line_text(field!("payee"))?;
    line.sale_period = r.period(field!("sale_period"))?;
    if line.sale_period.is_none()
        && let (Some(a), Some(b)) = (r.date(field!("sale_period_start"))?, r.date(field!("sale_period_end"))?)
    {
        line.sale_period = Some(Period::range(a, b).ok_or_else(|| r.err(field!("sale_period_end"), format!("sale period ends ({b}) before it starts ({a})")))?);
    }
    line.accounting_period = r.period(field!("accounting_period"))?;
    line.reporting_date = r.date(field!("reporting_date"))?;
    if let Some(s) = r.text(field!("store"))? {
        // Stores repeat from row to row: the canonical id of a known one, memoised per thread.
        let known = super::memo::memoised(0, "#store", &s, || {
            let store = Store::parse(&s);
            store.known.then(|| store.id.as_str().into())
        });
        line.store = Some(match known {
            Some(id) => id,
            None => {
                line.flags.push(LineFlag::UnknownStore(s.to_string()));
                s.trim().into()
            }
        });
    }
    line.offering = r.text(field!("offering"))?.map(|t| profile.map_value("offering", &t).unwrap_or_else(|| snake(&t)));
    if let Some(t) = r.text(field!("territory"))? {
        match Territory::parse(&t) {
            Some(territory) => line.territory = Some(territory),
            None => line.flags.push(LineFlag::UnknownTerritory(t.into_owned())),
        }
    }
    if let Some(t) = r.text(field!("isrc"))? {
        if is_scientific_notation(&t) {
            return Err(r.err(field!("isrc"), format!("ISRC '{t}' was turned into scientific notation; its characters are lost")));
        }
        match isrc_text(&t) {
            Ok(code) => line.isrc = Some(code),
            Err(_) => line.flags.push(LineFlag::InvalidIsrc(t.into_owned())),
        }
    }
    if let Some(t) = r.text(field!("upc"))? {
        if is_scientific_notation(&t) {
            return Err(r.err(field!("upc"), format!("UPC '{t}' was turned into scientific notation; its digits are lost")));
        }
        match parse_upc(&t) {
            Ok(code) => line.upc = Some(code.into()),
            Err(_) => line.flags.push(LineFlag::InvalidUpc(t.into_owned())),
        }
    }
    let mut details = LineDetails::default();
    if let Some(t) = r.text(field!("iswc"))? {
        match parse_iswc(&t) {
            Ok(code) => details.iswc = Some(code.into()),
            Err(_) => line.flags.push(LineFlag::InvalidIswc(t.into_owned())),
        }
    }
    line.title = r.line_text(field!("title"))?;
    details.release_title = r.line_text(field!("release_title"))?;
    line.artist = r.line_text(field!("artist"))?;
    line.sale_type = r.line_text(field!("sale_type"))?;
    details.channel = r.line_text(field!("channel"))?;
    details.price_category = r.line_text(field!("price_category"))?;
    details.reference = r.free_text(field!("reference"))?;
    if line_kind == LineKind::Income {
        line.income_type = Some(match r.text(field!("income_type"))? {
            Some(t) => profile
                .map_value("income_type", &t)
                .and_then(|k| IncomeType::from_name(&k))
                .or_else(|| IncomeType::from_name(&snake(&t)))
                .unwrap_or(IncomeType::Other),
            None => IncomeType::Other,
        });
    } else if line_kind == LineKind::Charge {
        // The charge column may only say "Charge"; the description then tells the kind.
        let column = r.text(field!("charge_kind"))?;
        let description = r.text(field!("description"))?;
        details.charge_kind = column
            .iter()
            .chain(description.iter())
            .find_map(|t| profile.map_value("charge_kind", t))
            .or_else(|| column.as_deref().or(description.as_deref()).map(snake));
    }
    line.units = r.decimal(field!("units"))?;
    details.free_units = r.decimal(field!("free_units"))?;
    details.container_pct = r.decimal(field!("container_pct"))?;
    details.unit_price = r.decimal(field!("unit_price"))?;
    line.gross = r.decimal(field!("gross"))?;
    line.fees = r.decimal(field!("fees"))?;
    line.taxes = r.decimal(field!("taxes"))?;
    line.net = r.decimal(field!("net"))?;
    details.split_pct = r.decimal(field!("split_pct"))?;
    line.royalty_rate = r.decimal(field!("royalty_rate"))?;
    line.royalty = r.decimal(field!("royalty"))?;
    line.amount = r.decimal(field!("amount"))?;
    details.original_amount = r.decimal(field!("original_amount"))?;
    details.original_currency = match r.text(field!("original_currency"))? {
        Some(t) => Some(Currency::parse(&t).ok_or_else(|| r.err(field!("original_currency"), format!("'{t}' is not an ISO 4217 currency code")))?),
        None => None,
    };
    details.fx_rate = r.decimal(field!("fx_rate"))?;
    details.description = r.free_text(field!("description"))?;
    line.set_details(details);
    for field in &profile.required {
        let present = match field.as_str() {
            "currency" => true,
            "net" => line.net.is_some(),
            "royalty" => line.royalty.is_some(),
            "amount" => line.amount.is_some(),
            "units" => line.units.is_some(),
            "gross" => line.gross.is_some(),
            "store" => line.store.is_some(),
            "sale_period" => line.sale_period.is_some(),
            "accounting_period" => line.accounting_period.is_some(),
            "isrc" => line.isrc.is_some() || line.flags.iter().any(|f| matches!(f, LineFlag::InvalidIsrc(_))),
            "upc" => line.upc.is_some() || line.flags.iter().any(|f| matches!(f, LineFlag::InvalidUpc(_))),
            "territory" => line.territory.is_some() || line.flags.iter().any(|f| matches!(f, LineFlag::UnknownTerritory(_))),
            other => field_index(other).map_or(Ok(None), |f| r.text(f))?.is_some(),
        };
        if !present {
            return Err(Box::new((r.column_name_of(field), format!("required {field} is missing"))));
        }
    }
    // One amount column on a label statement serves income (royalty) and everything else.
    if line_kind == LineKind::Income {
        if line.royalty.is_none() && profile.statement_kind == crate::ledger::StatementKind::Label {
            line.royalty = line.amount.take();
        }
    } else if line.amount.is_none() {
        line.amount = line.royalty.take().or_else(|| line.net.take());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_positions_name_their_field() {
        for (i, name) in FIELDS.iter().enumerate() {
            assert_eq!(field_index(name), Some(i));
        }
        assert_eq!(field!("currency"), FIELDS.iter().position(|f| *f == "currency").unwrap());
        assert_eq!(field_index("curr"), None);
        assert_eq!(field_index("currency_code"), None);
        assert_eq!(field_index(""), None);
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }
}
