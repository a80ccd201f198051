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
/// offset. [`visit_chunk`] reads the records of a chunk it does not split itself the same
/// way (without the old-Mac rule), with their first line in the file.
pub fn visit_text(text: &str, delimiter: u8, first_line: u64, visit: impl FnMut(TextRow<'_>)) -> Result<(), String> {
    // Old Mac files end lines with CR alone; count them as lines too.
    if text.contains('\r') && !text.contains('\n') {
        return visit_records(&text.replace('\r', "\n"), delimiter, first_line, visit);
    }
    visit_records(text, delimiter, first_line, visit)
}

/// A row of a chunk as [`visit_chunk`] hands it over.
pub enum ChunkRow<'r> {
    /// A line with neither quotes nor carriage returns inside, split on the delimiter: the
    /// fields the csv crate would give it, as the bytes of UTF-8 text (cut at ASCII bytes of
    /// a `str`, each is a `str`; kept as bytes, since a `str` cut checks the character
    /// boundaries at both ends of every field, ~15% of the splitting's instructions).
    Fields { number: u64, fields: &'r [&'r [u8]], bytes: usize },
    /// A row read by the csv crate (quotes, a stray carriage return, an unterminated last line).
    Text(TextRow<'r>),
}

/// [`visit_text`] for the streaming importer's chunks (text cut at line ends outside quotes,
/// lines ending in `\n`): the same rows with the same numbers, but a plain line (no `"`,
/// no `\r` but a final one) is split on the delimiter here, without the csv crate's record
/// copy and UTF-8 check; every other record goes to the csv crate, cut out on its own.
pub fn visit_chunk(text: &str, delimiter: u8, first_line: u64, mut visit: impl FnMut(ChunkRow<'_>)) -> Result<(), String> {
    if !delimiter.is_ascii() || matches!(delimiter, b'\n' | b'\r' | b'"') {
        return visit_records(text, delimiter, first_line, |r| visit(ChunkRow::Text(r)));
    }
    let bytes = text.as_bytes();
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut at = 0usize;
    let mut number = first_line;
    let mut marks = Marks::new(bytes, delimiter, 0);
    while at < bytes.len() {
        // The line's fields up to its end (`Some(end of text, end of line)`), or `None` at a
        // quote or a carriage return inside it.
        fields.clear();
        let mut start = at;
        let end = loop {
            // The delimiters before the block's next line end, quote or carriage return
            // (all of the block's when it has none) end fields.
            let (before, special) = match marks.specials {
                0 => (marks.delims, None),
                s => {
                    let e = s.trailing_zeros();
                    (marks.delims & ((1u64 << e) - 1), Some(marks.base + e as usize))
                }
            };
            let mut d = before;
            while d != 0 {
                let p = marks.base + d.trailing_zeros() as usize;
                // Cut at ASCII bytes of a UTF-8 string: every piece is a str.
                fields.push(&bytes[start..p]);
                start = p + 1;
                d &= d - 1;
            }
            marks.delims &= !before;
            let Some(p) = special else {
                if marks.advance() {
                    continue;
                }
                // The last line has no terminator: the csv crate's reader marks it.
                return visit_records(&text[at..], delimiter, number, |r| visit(ChunkRow::Text(r)));
            };
            marks.specials &= marks.specials - 1;
            match bytes[p] {
                b'\n' => break Some((p, p)),
                b'\r' if bytes.get(p + 1) == Some(&b'\n') => {
                    marks.pass(p + 1); // the line feed
                    break Some((p, p + 1));
                }
                _ => break None,
            }
        };
        match end {
            None => {
                // Through the csv crate, up to the first line end where its records end.
                let stop = at + records_end(&bytes[at..], delimiter);
                let segment = &text[at..stop];
                visit_records(segment, delimiter, number, |r| visit(ChunkRow::Text(r)))?;
                number += memchr::memchr_iter(b'\n', segment.as_bytes()).count() as u64;
                at = stop;
                marks = Marks::new(bytes, delimiter, at);
            }
            Some((text_end, line_end)) => {
                if text_end == at {
                    visit(ChunkRow::Text(TextRow::Blank(number)));
                } else {
                    fields.push(&bytes[start..text_end]);
                    visit(ChunkRow::Fields { number, fields: &fields, bytes: text_end - at });
                }
                number += 1;
                at = line_end + 1;
            }
        }
    }
    Ok(())
}

/// The positions of a text's delimiters, and of its line feeds, carriage returns and quotes
/// (the bytes that end or complicate a line), 64 bytes at a time: found with 16-byte SIMD
/// compares (the `wide` crate: SSE2 on x86-64, a portable fallback elsewhere) and kept as
/// bits, so that one pass over the bytes finds every field of every line, and a line's
/// fields are cut from the bits of its delimiters without looking at the bytes again.
struct Marks<'t> {
    bytes: &'t [u8],
    delimiter: u8,
    /// The block's first byte; bit i of each mask: byte `base + i`, not yet handed out.
    base: usize,
    delims: u64,
    specials: u64,
}

impl<'t> Marks<'t> {
    /// The marks from `at` on.
    fn new(bytes: &'t [u8], delimiter: u8, at: usize) -> Self {
        let (delims, specials) = if at < bytes.len() { block_marks(&bytes[at..], delimiter) } else { (0, 0) };
        Marks { bytes, delimiter, base: at, delims, specials }
    }

    /// On to the next block; `false` at the end of the text.
    fn advance(&mut self) -> bool {
        self.base += 64;
        if self.base >= self.bytes.len() {
            return false;
        }
        (self.delims, self.specials) = block_marks(&self.bytes[self.base..], self.delimiter);
        true
    }

    /// Pass over the special byte at `p`, the next one (in this block or the next).
    fn pass(&mut self, p: usize) {
        if p < self.base + 64 || self.advance() {
            self.specials &= self.specials.wrapping_sub(1);
        }
    }
}

/// For the first 64 bytes of `bytes`: bit i set in the first mask when byte i is the
/// delimiter, in the second when it is `\n`, `\r` or `"`.
fn block_marks(bytes: &[u8], delimiter: u8) -> (u64, u64) {
    use wide::u8x16;
    let mut padded = [0u8; 64];
    let block: &[u8; 64] = match bytes.first_chunk::<64>() {
        Some(b) => b,
        None => {
            padded[..bytes.len()].copy_from_slice(bytes);
            &padded
        }
    };
    let (d, n, r, q) = (u8x16::splat(delimiter), u8x16::splat(b'\n'), u8x16::splat(b'\r'), u8x16::splat(b'"'));
    let (mut delims, mut specials) = (0u64, 0u64);
    for (k, part) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = u8x16::new(*part);
        delims |= u64::from(v.simd_eq(d).to_bitmask()) << (16 * k);
        specials |= u64::from((v.simd_eq(n) | v.simd_eq(r) | v.simd_eq(q)).to_bitmask()) << (16 * k);
    }
    if bytes.len() < 64 {
        // The padding is no byte of the text.
        let real = (1u64 << bytes.len()) - 1;
        (delims & real, specials & real)
    } else {
        (delims, specials)
    }
}

/// Where the csv crate's first records in `bytes` end on a line end (just after a `\n`), or
/// the length when they do not: the csv crate's own state machine decides what is quoted, so
/// a stray quote inside a field (`12" Vinyl`) reads as it does there.
fn records_end(bytes: &[u8], delimiter: u8) -> usize {
    let mut reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    // The fields themselves are not kept.
    let (mut scratch, mut ends) = ([0u8; 4096], [0usize; 64]);
    let mut at = 0;
    loop {
        let (result, read, ..) = reader.read_record(&bytes[at..], &mut scratch, &mut ends);
        at += read;
        match result {
            csv_core::ReadRecordResult::Record if at > 0 => match bytes[at - 1] {
                b'\n' => return at,
                b'\r' if bytes.get(at) == Some(&b'\n') => return at + 1,
                _ => {}
            },
            csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {}
            csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => return bytes.len(),
        }
        if at >= bytes.len() {
            return bytes.len();
        }
    }
}

/// [`visit_text`] without the old-Mac line-end rule.
fn visit_records(text: &str, delimiter: u8, first_line: u64, mut visit: impl FnMut(TextRow<'_>)) -> Result<(), String> {
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

    /// What a visitor saw, in a form to compare.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Blank(u64),
        Record(u64, Vec<String>, Option<Unterminated>),
    }

    fn seen(row: TextRow<'_>) -> Seen {
        match row {
            TextRow::Blank(n) => Seen::Blank(n),
            TextRow::Record { number, record, unterminated } => Seen::Record(number, record.iter().map(String::from).collect(), unterminated),
        }
    }

    fn by_chunk(text: &str, first_line: u64) -> Vec<Seen> {
        let mut out = Vec::new();
        visit_chunk(text, b',', first_line, |r| {
            out.push(match r {
                ChunkRow::Fields { number, fields, bytes } => {
                    assert_eq!(bytes, fields.iter().map(|f| f.len() + 1).sum::<usize>() - 1);
                    Seen::Record(number, fields.iter().map(|f| std::str::from_utf8(f).unwrap().to_string()).collect(), None)
                }
                ChunkRow::Text(r) => seen(r),
            })
        })
        .unwrap();
        out
    }

    fn by_records(text: &str, first_line: u64) -> Vec<Seen> {
        let mut out = Vec::new();
        visit_records(text, b',', first_line, |r| out.push(seen(r))).unwrap();
        out
    }

    #[test]
    fn chunk_rows_are_the_csv_crate_rows() {
        for text in ["a,b\n\nc,\"d\ne\",f\r\n\r\n g ,\n", "x\r\ny\rz\n\"q\n", "a,\"b\"\"c\",d\n1,2", "", "\n\n", "last"] {
            assert_eq!(by_chunk(text, 7), by_records(text, 7), "{text:?}");
        }
    }

    proptest::proptest! {
        /// Any text of lines, quotes, delimiters and carriage returns (stray quotes too): the
        /// chunk visitor sees what the csv crate sees.
        #[test]
        fn chunk_visitor_agrees_with_the_csv_crate(pieces in proptest::collection::vec(proptest::sample::select(vec!["a", "bc", ",", "\n", "\r\n", "\r", "\"", "\"x,\ny\"", " ", "é"]), 0..40)) {
            let text: String = pieces.concat();
            proptest::prop_assert_eq!(by_chunk(&text, 1), by_records(&text, 1));
        }

        /// Texts long enough that lines, quotes and line ends fall across the 64-byte blocks
        /// the chunk visitor scans.
        #[test]
        fn chunk_visitor_agrees_across_blocks(pieces in proptest::collection::vec(proptest::sample::select(vec!["abcdefghijklmnopqrstuvwxyz0123456789", "bc", ",", ",,", "\n", "\r\n", "\r", "\"", "\"x,\ny\"", " ", "é", "\n\n"]), 0..200)) {
            let text: String = pieces.concat();
            proptest::prop_assert_eq!(by_chunk(&text, 1), by_records(&text, 1));
        }
    }

    #[test]
    fn marks_find_every_delimiter_and_every_line_end_and_quote() {
        let text = "a,b\"c\rd\ne;f".repeat(9);
        let bytes = text.as_bytes();
        let all = |from: usize, delimiter: u8| {
            let mut marks = Marks::new(bytes, delimiter, from);
            let (mut delims, mut specials) = (Vec::new(), Vec::new());
            loop {
                for (mask, out) in [(marks.delims, &mut delims), (marks.specials, &mut specials)] {
                    out.extend((0..64).filter(|i| mask & (1u64 << i) != 0).map(|i| marks.base + i));
                }
                if !marks.advance() {
                    break;
                }
            }
            (delims, specials)
        };
        for (from, delimiter) in [(0, b','), (70, b';')] {
            let (delims, specials) = all(from, delimiter);
            assert_eq!(delims, (from..bytes.len()).filter(|i| bytes[*i] == delimiter).collect::<Vec<_>>());
            assert_eq!(specials, (from..bytes.len()).filter(|i| matches!(bytes[*i], b'"' | b'\r' | b'\n')).collect::<Vec<_>>());
        }
    }

    #[test]
    fn crlf_line_endings() {
        let sheet = read_text("h1,h2\r\na,1\r\n\r\nb,2\r\n", Some(b',')).unwrap();
        let numbers: Vec<u64> = sheet.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4]);
        assert!(sheet.rows[2].is_blank());
    }
}
