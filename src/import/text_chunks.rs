//! A large text file as chunks of bytes cut at line ends, for the streaming importer's
//! workers.
//!
//! UTF-8 files (most statements) are read as they are: the reading thread only reads and
//! cuts, and each worker checks its own chunk ([`chunk_text`]: UTF-8 validation, byte-order
//! marks of concatenated exports), so that the bytes are copied once, by the kernel, and
//! the checking is shared out. Other encodings (UTF-16, Windows-1252) are decoded to UTF-8
//! as they are read, by encoding_rs.

use std::borrow::Cow;
use std::io::Read;

/// Bytes read (or decoded) at a time.
pub const READ_BYTES: u64 = 1 << 20;

/// The text of a file, read a part at a time.
pub struct TextSource<R: Read> {
    reader: R,
    /// `None`: UTF-8, read as it is.
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    decoded: String,
    /// The whole file has been read.
    pub done: bool,
    /// Byte-order marks removed from decoded text (UTF-8 chunks count their own).
    pub inner_boms: usize,
}

impl<R: Read> TextSource<R> {
    /// A source over `reader`, whose first bytes (after any BOM) are in `encoding`.
    pub fn new(reader: R, encoding: &'static encoding_rs::Encoding) -> TextSource<R> {
        let decoder = (encoding != encoding_rs::UTF_8).then(|| encoding.new_decoder_without_bom_handling());
        TextSource { reader, decoder, raw: Vec::new(), decoded: String::new(), done: false, inner_boms: 0 }
    }

    /// Skip `n` bytes (a BOM).
    pub fn skip(&mut self, n: u64) -> Result<(), String> {
        std::io::copy(&mut (&mut self.reader).take(n), &mut std::io::sink()).map(drop).map_err(|e| e.to_string())
    }

    /// Append up to `limit` bytes of text (a little more when decoding) to `into`; false at
    /// the end of the input.
    fn read(&mut self, into: &mut Vec<u8>, limit: u64) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(decoder) = self.decoder.as_mut() else {
            let n = (&mut self.reader).take(limit).read_to_end(into).map_err(|e| e.to_string())?;
            self.done = (n as u64) < limit;
            return Ok(true);
        };
        self.raw.clear();
        let n = (&mut self.reader).take(limit).read_to_end(&mut self.raw).map_err(|e| e.to_string())?;
        let last = (n as u64) < limit;
        self.decoded.clear();
        self.decoded.reserve(decoder.max_utf8_buffer_length(n).unwrap_or(n * 3));
        let (_result, _read, _had_errors) = decoder.decode_to_string(&self.raw, &mut self.decoded, last);
        self.inner_boms += super::decode::strip_inner_boms(&mut self.decoded, 0);
        into.extend_from_slice(self.decoded.as_bytes());
        self.done = last;
        Ok(true)
    }

    /// Append the next [`READ_BYTES`] of text to `into`; false at the end of the input.
    pub fn more(&mut self, into: &mut Vec<u8>) -> Result<bool, String> {
        self.read(into, READ_BYTES)
    }

    /// Read onto `into` until it holds `size` bytes or the input ends.
    pub fn fill(&mut self, into: &mut Vec<u8>, size: usize) -> Result<(), String> {
        while into.len() < size && self.read(into, (size - into.len()) as u64)? {}
        Ok(())
    }
}

/// The first [`READ_BYTES`] of `input`.
pub fn read_head(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    input.take(READ_BYTES).read_to_end(&mut head)?;
    Ok(head)
}

/// Positions just after each line end outside double quotes (the text starts outside quotes).
pub fn line_ends(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut in_quotes = false;
    memchr::memchr2_iter(b'"', b'\n', text).filter_map(move |i| {
        if text[i] == b'"' {
            in_quotes = !in_quotes;
            None
        } else {
            (!in_quotes).then_some(i + 1)
        }
    })
}

/// The position just after the last line end outside double quotes (the text starts outside
/// quotes): `line_ends(text).last()`, without visiting every line end. A line end is
/// outside quotes when the quotes before it are even in number: the quotes are counted
/// once, then the text is walked back from its end to its last such line end.
pub fn last_line_end(text: &[u8]) -> Option<usize> {
    let mut before = bytecount::count(text, b'"');
    for i in memchr::memrchr2_iter(b'"', b'\n', text) {
        if text[i] == b'"' {
            before -= 1;
        } else if before.is_multiple_of(2) {
            return Some(i + 1);
        }
    }
    None
}

/// The bytes before `at`, in `s`'s buffer; `s` keeps the rest, in `spare`'s buffer.
pub fn split_off_front(s: &mut Vec<u8>, at: usize, mut spare: Vec<u8>) -> Vec<u8> {
    spare.clear();
    spare.extend_from_slice(&s[at..]);
    s.truncate(at);
    std::mem::replace(s, spare)
}

/// A chunk's bytes as text, and how many byte-order marks (of exports concatenated after
/// their BOM) were removed from it. Bytes that are not UTF-8 are replaced (U+FFFD) as
/// encoding_rs's decoder replaces them; a chunk ends at a line end, so no character is cut.
pub fn chunk_text(bytes: &[u8]) -> (Cow<'_, str>, usize) {
    const BOM: &[u8] = "\u{feff}".as_bytes();
    // A byte-order mark starts with 0xEF, which most chunks (ASCII text) do not hold: one
    // search for that byte rules marks out before any search for the mark itself.
    let boms = if memchr::memchr(BOM[0], bytes).is_some() { memchr::memmem::find_iter(bytes, BOM).count() } else { 0 };
    let text = encoding_rs::UTF_8.decode_without_bom_handling(bytes).0;
    if boms == 0 {
        return (text, 0);
    }
    let mut text = text.into_owned();
    let removed = super::decode::strip_inner_boms(&mut text, 0);
    (Cow::Owned(text), removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_skip_quoted_newlines() {
        assert_eq!(line_ends(b"a,b\nc,\"d\ne\"\nf").last(), Some(12));
        assert_eq!(line_ends(b"a,\"b\nc").count(), 0);
        assert_eq!(line_ends(b"abc").count(), 0);
        assert_eq!(line_ends(b"a\nb\n\"c\nd\"\ne\n").find(|e| *e >= 3), Some(4));
        assert_eq!(line_ends(b"a\nb\n\"c\nd\"\ne\n").find(|e| *e >= 5), Some(10));
        assert_eq!(last_line_end(b"a,b\nc,\"d\ne\"\nf"), Some(12));
        assert_eq!(last_line_end(b"a,b\nc,\"d\ne\nf"), Some(4), "the last line ends are inside quotes");
        assert_eq!(last_line_end(b"a,\"b\nc"), None);
        assert_eq!(last_line_end(b""), None);
    }

    proptest::proptest! {
        /// The last line end outside quotes is the last of [`line_ends`], on texts of quotes,
        /// line ends and other bytes.
        #[test]
        fn last_line_end_is_the_last_of_line_ends(text in proptest::collection::vec(proptest::sample::select(b"\"\n\ra,".to_vec()), 0..200)) {
            proptest::prop_assert_eq!(last_line_end(&text), line_ends(&text).last());
        }
    }

    #[test]
    fn chunks_are_checked_as_the_decoder_would() {
        assert_eq!(chunk_text(b"a,b\n"), (Cow::Borrowed("a,b\n"), 0));
        assert_eq!(chunk_text("x\n\u{feff}a,b\n".as_bytes()), (Cow::Owned("x\na,b\n".to_string()), 1));
        // Not UTF-8: replaced as a streaming UTF-8 decoder replaces them.
        let bad = b"caf\xe9,\xf0\x9f\x98\n\xc3\xa9\n";
        let mut decoder = encoding_rs::UTF_8.new_decoder_without_bom_handling();
        let mut want = String::with_capacity(64);
        let _ = decoder.decode_to_string(bad, &mut want, true);
        assert_eq!(chunk_text(bad).0, want);
        assert_eq!(chunk_text(bad).0, "caf\u{fffd},\u{fffd}\n\u{e9}\n");
    }

    #[test]
    fn a_source_fills_to_the_size_asked_and_says_when_it_is_done() {
        let text = "a,b\n".repeat(1000);
        let mut s = TextSource::new(text.as_bytes(), encoding_rs::UTF_8);
        let mut buf = Vec::new();
        s.fill(&mut buf, 1001).unwrap();
        assert_eq!(buf.len(), 1001);
        assert!(!s.done);
        s.fill(&mut buf, 10_000).unwrap();
        assert_eq!(buf, text.as_bytes());
        assert!(s.done);
        assert!(!s.more(&mut buf).unwrap());
        // Decoded: UTF-16 in, UTF-8 out, BOMs inside removed and counted.
        let utf16: Vec<u8> = "a,\u{e9}\n\u{feff}b\n".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let mut s = TextSource::new(&utf16[..], encoding_rs::UTF_16LE);
        let mut buf = Vec::new();
        s.fill(&mut buf, 100).unwrap();
        assert_eq!(buf, "a,\u{e9}\nb\n".as_bytes());
        assert_eq!(s.inner_boms, 1);
    }
}
