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

/// One physical row of delimited text as the reader sees it.
pub enum TextRow<'r> {
    /// An empty line (the csv crate skips these; they are rows all the same).
    Blank(u64),
    Record {
        /// Line number where the record starts.
        number: u64,
        record: &'r csv::StringRecord,
        /// Set on the last record when the text does not end with a line terminator.
        unterminated: Option<Unterminated>,
    },
}

/// Visit every physical row of decoded delimited text, in order, with its line number.
///
/// Line numbers are physical line numbers where each record starts, counted from
/// `first_line`. The csv crate reports a record's position from where it started reading,
/// which may be a blank line it then skipped, so the start is recomputed from the byte
/// offset. The streaming importer calls this on chunks cut at line ends, with `first_line`
/// the chunk's first line in the file.
pub fn visit_text(text: &str, delimiter: u8, first_line: u64, mut visit: impl FnMut(TextRow<'_>)) -> Result<(), String> {
    // Old Mac files end lines with CR alone; count them as lines too.
    let owned;
    let text = if text.contains('\r') && !text.contains('\n') {
        owned = text.replace('\r', "\n");
        owned.as_str()
    } else {
        text
    };
    let offset = first_line - 1;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    let ends_with_newline = text.ends_with('\n') || text.ends_with('\r');
    let mut records = [csv::StringRecord::new(), csv::StringRecord::new()];
    let mut cur = 0usize;
    let mut counted_upto = 0usize; // bytes whose newlines are counted
    let mut line_at = 1u64; // line number at `counted_upto`
    let mut next_free_line = 1u64; // first line not yet assigned to a row
    // Read one record ahead so that the last one is known when it is visited.
    let mut read = |rec: &mut csv::StringRecord, counted_upto: &mut usize, line_at: &mut u64| -> Result<Option<(u64, usize)>, String> {
        let more = reader.read_record(rec).map_err(|e| format!("line {}: {e}", *line_at + offset))?;
        if !more {
            return Ok(None);
        }
        let mut start = rec.position().map_or(*counted_upto, |p| p.byte() as usize).max(*counted_upto);
        while start < bytes.len() && (bytes[start] == b'\n' || bytes[start] == b'\r') {
            start += 1;
        }
        *line_at += memchr::memchr_iter(b'\n', &bytes[*counted_upto..start]).count() as u64;
        *counted_upto = start;
        Ok(Some((*line_at, start)))
    };
    let mut pending = read(&mut records[cur], &mut counted_upto, &mut line_at)?;
    while let Some((line, start)) = pending {
        let (a, b) = records.split_at_mut(1);
        let (this, next) = if cur == 0 { (&a[0], &mut b[0]) } else { (&b[0], &mut a[0]) };
        pending = read(next, &mut counted_upto, &mut line_at)?;
        while next_free_line < line {
            visit(TextRow::Blank(next_free_line + offset));
            next_free_line += 1;
        }
        let unterminated = if pending.is_none() && !ends_with_newline {
            let open_quote = memchr::memchr_iter(b'"', &bytes[start..]).count() % 2 == 1;
            Some(if open_quote { Unterminated::OpenQuote } else { Unterminated::NoNewline })
        } else {
            None
        };
        let inner_newlines: u64 = this.iter().map(|f| memchr::memchr_iter(b'\n', f.as_bytes()).count() as u64).sum();
        visit(TextRow::Record { number: line + offset, record: this, unterminated });
        next_free_line = line + inner_newlines + 1;
        cur = 1 - cur;
    }
    // Blank lines after the last record, except the final line terminator itself.
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    let last_line = if ends_with_newline { newlines } else { newlines + 1 };
    while next_free_line <= last_line && !text.is_empty() {
        visit(TextRow::Blank(next_free_line + offset));
        next_free_line += 1;
    }
    Ok(())
}

/// Read decoded delimited text into a one-sheet grid.
pub fn read_text(text: &str, delimiter: Option<u8>) -> Result<Sheet, String> {
    let delim = delimiter.unwrap_or_else(|| sniff_delimiter(text));
    let mut rows = Vec::new();
    visit_text(text, delim, 1, |row| {
        rows.push(match row {
            TextRow::Blank(number) => Row { number, cells: Vec::new(), unterminated: None },
            TextRow::Record { number, record, unterminated } => Row { number, cells: record.iter().map(Cell::text).collect(), unterminated },
        })
    })?;
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
