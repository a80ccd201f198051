//! A file's contents as rows of typed cells, before any statement profile is applied.
//! Text readers yield text cells; workbook readers yield typed cells (numbers, dates, errors).

use chrono::NaiveDate;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(Decimal),
    Date(NaiveDate),
    Bool(bool),
    /// A spreadsheet error value such as `#N/A`.
    Error(String),
    /// A formula whose result was never computed and saved (no cached value).
    FormulaWithoutValue(String),
    /// A cell the reader refused to take (the reason says why, e.g. absurd length).
    Refused(String),
}

/// Longest cell accepted, in bytes. No statement field comes near it; a longer cell is a
/// damaged or hostile file, and its row is rejected with the reason.
pub const MAX_CELL_BYTES: usize = 1 << 20;

impl Cell {
    /// Text as a cell, unless it is longer than [`MAX_CELL_BYTES`].
    pub fn text(s: &str) -> Cell {
        if s.len() > MAX_CELL_BYTES {
            Cell::Refused(format!("cell of {} bytes is longer than the {} KiB limit", s.len(), MAX_CELL_BYTES >> 10))
        } else {
            Cell::Text(s.to_string())
        }
    }
}

/// `text.trim()`, without going through the text character by character when it starts
/// and ends with a visible ASCII character (nearly every cell): then there is nothing to
/// trim. (`str::trim` decodes the characters at both ends; cells are trimmed a few dozen
/// times a row.)
#[inline]
pub fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// [`trim`] for the bytes of UTF-8 text (a cell of a plain line, kept as bytes).
#[inline]
pub fn trim_bytes(text: &[u8]) -> &[u8] {
    match (text.first(), text.last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => text,
        _ => std::str::from_utf8(text).map_or(text, |t| t.trim().as_bytes()),
    }
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => trim(t).is_empty(),
            _ => false,
        }
    }

    /// [`Cell::display`], borrowed from the cell when it is text (most cells).
    pub fn shown(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(t) => std::borrow::Cow::Borrowed(trim(t)),
            other => std::borrow::Cow::Owned(other.display()),
        }
    }

    /// The cell as a person would read it (for headers, labels and messages).
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.trim().to_string(),
            Cell::Number(d) => d.normalize().to_string(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Cell::Error(e) => e.clone(),
            Cell::Refused(r) => format!("({r})"),
            Cell::FormulaWithoutValue(f) => format!("={f}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line (text) or row (workbook) number where the row starts.
    pub number: u64,
    pub cells: Vec<Cell>,
    /// Set on the last row of a text file that has no line terminator; the reason says
    /// whether it is certainly cut (open quote) or only possibly.
    pub unterminated: Option<Unterminated>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unterminated {
    /// Ends inside a quoted field: certainly cut.
    OpenQuote,
    /// No newline after the last line.
    NoNewline,
}

impl Row {
    /// Make this row hold `fields` (each as [`Cell::text`] makes it), reusing the text
    /// buffers of its cells: a reader that fills one row per line allocates only while the
    /// row's texts grow.
    pub fn refill<'t>(&mut self, number: u64, fields: impl IntoIterator<Item = &'t str>, unterminated: Option<Unterminated>) {
        self.number = number;
        self.unterminated = unterminated;
        let mut n = 0;
        for f in fields {
            match self.cells.get_mut(n) {
                Some(Cell::Text(s)) if f.len() <= MAX_CELL_BYTES => {
                    s.clear();
                    s.push_str(f);
                }
                Some(cell) => *cell = Cell::text(f),
                None => self.cells.push(Cell::text(f)),
            }
            n += 1;
        }
        self.cells.truncate(n);
    }

    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_empty)
    }

    pub fn cell(&self, i: usize) -> &Cell {
        self.cells.get(i).unwrap_or(&Cell::Empty)
    }

    /// Number of cells up to the last non-empty one.
    pub fn width(&self) -> usize {
        self.cells.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// Sheet name for workbooks; `None` for text files.
    pub name: Option<String>,
    pub rows: Vec<Row>,
    /// The workbook counts dates from 1904 (old Mac Excel), so numeric date cells use it.
    pub date_1904: bool,
}

/// Everything read from one file before profiles are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub sheets: Vec<Sheet>,
    /// Sheets not imported because they are hidden (reported, never silently dropped).
    pub hidden_sheets: Vec<String>,
    /// Text encoding, for text files.
    pub encoding: Option<&'static str>,
    pub delimiter: Option<u8>,
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The quick trim is `str::trim`, whatever the text: ASCII, Unicode spaces (no-break,
        /// ideographic, line separator), control characters, letters.
        #[test]
        fn trim_is_str_trim(text in "[ a-z0-9\\t\\n\\r\\x01\\x7f\u{a0}\u{3000}\u{2028}é]{0,8}") {
            proptest::prop_assert_eq!(trim(&text), text.trim(), "{:?}", text);
            proptest::prop_assert_eq!(trim_bytes(text.as_bytes()), text.trim().as_bytes(), "{:?}", text);
        }
    }

    #[test]
    fn trim_keeps_visible_ends_and_trims_the_rest() {
        assert_eq!(trim("GB"), "GB");
        assert_eq!(trim(" GB\t"), "GB");
        assert_eq!(trim("\u{a0}GB"), "GB");
        assert_eq!(trim("\u{1}GB"), "\u{1}GB");
        assert_eq!(trim(""), "");
        assert!(Cell::Text(" \u{3000} ".into()).is_empty());
    }
}
