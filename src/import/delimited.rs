//! CSV / TSV / semicolon / pipe files, read with the csv crate after decoding. The csv crate
//! skips blank lines and silently accepts a cut last line; both are recovered here from
//! the raw text so that every physical row is accounted for.

use super::decode::decode;
use super::grid::{Cell, Grid, Row, Sheet, Unterminated};

const CANDIDATES: [u8; 4] = [b'\t', b',', b';', b'|'];

/// Count a delimiter on one line, outside double quotes.
fn count_outside_quotes(line: &str, delim: u8) -> usize {
    let mut in_quotes = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == delim && !in_quotes {
            n += 1;
        }
    }
    n
}

/// Pick the delimiter whose per-line count is most consistent over the first lines.
pub fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(50).collect();
    let mut best = (0usize, 0usize, b',');
    for delim in CANDIDATES {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, delim)).collect();
        let mut freq = std::collections::BTreeMap::new();
        for c in counts.iter().filter(|c| **c > 0) {
            *freq.entry(*c).or_insert(0usize) += 1;
        }
        // Most lines with the same count; among equals, the larger count.
        if let Some((count, lines_with)) = freq.iter().max_by_key(|(c, n)| (**n, **c)) {
            let key = (*lines_with, *count, delim);
            if (key.0, key.1) > (best.0, best.1) {
                best = key;
            }
        }
    }
    best.2
}

/// Read decoded delimited text into a one-sheet grid.
///
/// Row numbers are physical line numbers where each record starts. The csv crate reports a
/// record's position from where it started reading, which may be a blank line it then
/// skipped, so the start is recomputed from the byte offset.
pub fn read_text(text: &str, delimiter: Option<u8>) -> Result<Sheet, String> {
    // Old Mac files end lines with CR alone; count them as lines too.
    let owned;
    let text = if text.contains('\r') && !text.contains('\n') {
        owned = text.replace('\r', "\n");
        owned.as_str()
    } else {
        text
    };
    let delim = delimiter.unwrap_or_else(|| sniff_delimiter(text));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut counted_upto = 0usize; // bytes whose newlines are counted
    let mut line_at = 1u64; // line number at `counted_upto`
    let mut next_free_line = 1u64; // first line not yet assigned to a row
    let mut last_start_byte = 0usize;
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| format!("line {}: {e}", line_at))?;
        if !more {
            break;
        }
        let mut start = record.position().map_or(counted_upto, |p| p.byte() as usize).max(counted_upto);
        while start < bytes.len() && (bytes[start] == b'\n' || bytes[start] == b'\r') {
            start += 1;
        }
        line_at += bytes[counted_upto..start].iter().filter(|b| **b == b'\n').count() as u64;
        counted_upto = start;
        // Lines the csv crate skipped because they were empty are blank rows.
        while next_free_line < line_at {
            rows.push(Row { number: next_free_line, cells: Vec::new(), unterminated: None });
            next_free_line += 1;
        }
        last_start_byte = start;
        let inner_newlines: u64 = record.iter().map(|f| f.matches('\n').count() as u64).sum();
        let cells = record.iter().map(Cell::text).collect();
        rows.push(Row { number: line_at, cells, unterminated: None });
        next_free_line = line_at + inner_newlines + 1;
    }
    // Blank lines after the last record, except the final line terminator itself.
    let ends_with_newline = text.ends_with('\n') || text.ends_with('\r');
    let newlines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let last_line = if ends_with_newline { newlines } else { newlines + 1 };
    while next_free_line <= last_line && !text.is_empty() {
        rows.push(Row { number: next_free_line, cells: Vec::new(), unterminated: None });
        next_free_line += 1;
    }
    if !text.is_empty() && !ends_with_newline {
        let tail = text.get(last_start_byte..).unwrap_or("");
        if let Some(last) = rows.iter_mut().rev().find(|r| !r.cells.is_empty()) {
            let open_quote = tail.bytes().filter(|b| *b == b'"').count() % 2 == 1;
            last.unterminated =
                Some(if open_quote { Unterminated::OpenQuote } else { Unterminated::NoNewline });
        }
    }
    Ok(Sheet { name: None, rows, date_1904: false })
}

/// Decode bytes and read them as a delimited file.
pub fn read_delimited(bytes: &[u8], delimiter: Option<u8>) -> Result<Grid, String> {
    let decoded = decode(bytes);
    let delim = delimiter.unwrap_or_else(|| sniff_delimiter(&decoded.text));
    let sheet = read_text(&decoded.text, Some(delim))?;
    let mut notes = Vec::new();
    if decoded.inner_boms > 0 {
        notes.push(format!(
            "{} byte-order mark(s) inside the file removed (concatenated exports)",
            decoded.inner_boms
        ));
    }
    Ok(Grid {
        sheets: vec![sheet],
        hidden_sheets: Vec::new(),
        encoding: Some(decoded.encoding),
        delimiter: Some(delim),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(row: &Row) -> Vec<String> {
        row.cells.iter().map(|c| c.display()).collect()
    }

    #[test]
    fn sniffs_each_delimiter() {
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2,5\t3\n"), b'\t');
        assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n"), b';');
        assert_eq!(sniff_delimiter("a|b|c\n1|2|3\n"), b'|');
        assert_eq!(sniff_delimiter("a,b,c\n1,\"2;5\",3\n"), b',');
    }

    #[test]
    fn blank_lines_and_quoted_newlines_keep_line_numbers() {
        let sheet = read_text("h1,h2\n\n\"a\nb\",1\n\nc,2\n\n\n", Some(b',')).unwrap();
        let numbers: Vec<u64> = sheet.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, vec![1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(texts(&sheet.rows[2]), vec!["a\nb", "1"]);
        assert!(sheet.rows[1].is_blank() && sheet.rows[3].is_blank());
        assert_eq!(texts(&sheet.rows[4]), vec!["c", "2"]);
        assert!(sheet.rows.iter().all(|r| r.unterminated.is_none()));
    }

    #[test]
    fn cut_last_line_is_marked() {
        let sheet = read_text("h1,h2\na,1\nb,2", Some(b',')).unwrap();
        assert_eq!(sheet.rows.len(), 3);
        assert_eq!(sheet.rows[2].unterminated, Some(Unterminated::NoNewline));
        let sheet = read_text("h1,h2\na,1\n\"b,2", Some(b',')).unwrap();
        assert_eq!(sheet.rows[2].unterminated, Some(Unterminated::OpenQuote));
    }

    #[test]
    fn crlf_line_endings() {
        let sheet = read_text("h1,h2\r\na,1\r\n\r\nb,2\r\n", Some(b',')).unwrap();
        let numbers: Vec<u64> = sheet.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4]);
        assert!(sheet.rows[2].is_blank());
    }
}
