//! Where a value came from: file, sheet, row and column. Carried by every ledger line,
//! every rejected row and (later) every finding, so that any figure can be traced back.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// A position in an input file. `row` is 1-based: the line number of the record's first line
/// in a text file, the spreadsheet row number in a workbook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceRef {
    /// Shared by every line and reject of a file (one allocation per file, not per row).
    pub file: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    pub row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl SourceRef {
    pub fn new(file: impl Into<Arc<str>>, sheet: Option<String>, row: u64) -> Self {
        SourceRef { file: file.into(), sheet, row, column: None }
    }

    pub fn with_column(&self, column: impl Into<String>) -> Self {
        SourceRef { column: Some(column.into()), ..self.clone() }
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
        let r = SourceRef::new("a.xlsx", Some("Detail".into()), 12).with_column("Net");
        assert_eq!(r.to_string(), "a.xlsx:Detail:12:Net");
        assert_eq!(SourceRef::new("b.csv", None, 3).to_string(), "b.csv:3");
    }
}
