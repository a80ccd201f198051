//! Bytes to text before any parsing: UTF-8 (with or without BOM, and with BOMs repeated where
//! exports were concatenated), UTF-16 LE/BE (with BOM, or recognised by its zero bytes), and
//! Windows-1252 for anything that is not valid UTF-8. The decoders are encoding_rs's.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

/// Decoded text and the name of the encoding it was read as.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
    /// BOM characters found after the start of the text (removed).
    pub inner_boms: usize,
}

fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(512) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let odd_zero = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    if odd_zero * 10 >= pairs * 9 && even_zero == 0 {
        Some(UTF_16LE)
    } else if even_zero * 10 >= pairs * 9 && odd_zero == 0 {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The encoding of text starting with `bytes`, and the length of its BOM. When `bytes` is
/// only the start of the text (`complete` false), a character cut at its end is no sign of
/// another encoding.
pub(crate) fn sniff(bytes: &[u8], complete: bool) -> (&'static Encoding, usize) {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        (enc, bom_len)
    } else if let Some(enc) = utf16_without_bom(bytes) {
        (enc, 0)
    } else {
        match std::str::from_utf8(bytes) {
            Ok(_) => (UTF_8, 0),
            Err(e) if e.error_len().is_none() && !complete => (UTF_8, 0),
            Err(_) => (WINDOWS_1252, 0),
        }
    }
}

/// Remove BOM characters from `text[from..]` (exports concatenated after their BOM);
/// how many were removed.
pub(crate) fn strip_inner_boms(text: &mut String, from: usize) -> usize {
    let n = text[from..].matches('\u{feff}').count();
    if n > 0 {
        let tail = text[from..].replace('\u{feff}', "");
        text.truncate(from);
        text.push_str(&tail);
    }
    n
}

pub fn decode(bytes: &[u8]) -> Decoded {
    let (encoding, bom_len) = sniff(bytes, true);
    let (text, _had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
    let mut text = text.into_owned();
    let inner_boms = strip_inner_boms(&mut text, 0);
    Decoded { text, encoding: encoding.name(), inner_boms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_and_repeated_bom() {
        let d = decode(b"\xEF\xBB\xBFa,b\n\xEF\xBB\xBFa,b\n");
        assert_eq!(d.text, "a,b\na,b\n");
        assert_eq!(d.encoding, "UTF-8");
        assert_eq!(d.inner_boms, 1);
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let mut le = vec![0xFF, 0xFE];
        for u in "Café,1\n".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&le).text, "Café,1\n");
        let mut be = vec![0xFE, 0xFF];
        for u in "Café,1\n".encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode(&be).text, "Café,1\n");
        let bare: Vec<u8> = "Store,Net\n".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(decode(&bare).text, "Store,Net\n");
    }

    #[test]
    fn windows_1252_fallback() {
        let d = decode(b"Caf\xe9,\x80 1\n");
        assert_eq!(d.text, "Café,€ 1\n");
        assert_eq!(d.encoding, "windows-1252");
    }
}
