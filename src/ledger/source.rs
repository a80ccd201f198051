//! Where a value came from: file, sheet, row and column. Carried by every ledger line,
//! every rejected row and (later) every finding, so that any figure can be traced back.

use serde::Serialize;
use std::fmt;

use super::LineText;

/// A position in an input file. `row` is 1-based: the line number of the record's first line
/// in a text file, the spreadsheet row number in a workbook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SourceRef {
    /// Interned, like the sheet's name: a copy per line, with no count of references to
    /// update (a count shared by every line of a file is written by every reading thread).
    pub file: LineText,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<LineText>,
    pub row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// (A boxed text, 16 bytes: every ledger line carries a source, and only rejects name a
    /// column.)
    pub column: Option<Box<str>>,
}

impl SourceRef {
    pub fn new(file: &str, sheet: Option<&str>, row: u64) -> Self {
        SourceRef { file: file.into(), sheet: sheet.map(LineText::from), row, column: None }
    }

    pub fn with_column(&self, column: impl Into<String>) -> Self {
        SourceRef { column: Some(column.into().into_boxed_str()), ..self.clone() }
    }
}

/// Ordered by file, sheet, row and column (as the fields are listed), names by their text.
/// Lines of one file share its handle: the names are compared only when the handles differ.
impl Ord for SourceRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let file = if self.file == other.file { std::cmp::Ordering::Equal } else { self.file.cmp(&other.file) };
        file.then_with(|| self.sheet.cmp(&other.sheet)).then_with(|| self.row.cmp(&other.row)).then_with(|| self.column.cmp(&other.column))
    }
}

impl PartialOrd for SourceRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(sheet) = &self.sheet {
            write!(f, ":{sheet}")?;
        }
        write!(f, ":{}", self.row)?;
        if let Some(column) = &self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_sheet_row_column() {
        let r = SourceRef::new("a.xlsx", Some("Detail"), 12).with_column("Net");
        assert_eq!(r.to_string(), "a.xlsx:Detail:12:Net");
        assert_eq!(SourceRef::new("b.csv", None, 3).to_string(), "b.csv:3");
    }

    #[test]
    fn ordered_by_file_sheet_row_and_column() {
        let (a, same_name) = ("a.csv", "a.csv");
        let at = |file: &str, sheet: Option<&str>, row| SourceRef::new(file, sheet, row);
        let mut refs = [
            at("b.csv", None, 1),
            at(a, Some("S2"), 1),
            at(same_name, None, 9),
            at(a, None, 10),
            at(a, Some("S1"), 5),
            at(a, None, 10).with_column("C"),
            at(a, None, 2),
        ];
        refs.sort();
        let shown: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["a.csv:2", "a.csv:9", "a.csv:10", "a.csv:10:C", "a.csv:S1:5", "a.csv:S2:1", "b.csv:1"]);
        assert_eq!(at(a, None, 3).cmp(&at(same_name, None, 3)), std::cmp::Ordering::Equal);
    }
}
