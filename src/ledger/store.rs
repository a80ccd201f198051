//! Store (DSP) names normalised to canonical ids with an alias table (domain.md §7.6).
//! Unknown names are kept as written and flagged; the offering (premium, ad-supported,
//! download, video, UGC) is a separate field of the ledger line.

/// Canonical id and the aliases (lower-case, trimmed) that map to it.
const STORES: &[(&str, &[&str])] = &[
    ("spotify", &["spotify", "spotify premium", "spotify free"]),
    ("apple_music", &["apple music", "apple", "apple inc.", "applemusic"]),
    ("itunes", &["itunes", "itunes store", "apple itunes", "itunes/apple", "itunes match"]),
    ("amazon_music_unlimited", &["amazon music unlimited", "amazon unlimited"]),
    ("amazon_prime_music", &["amazon prime", "amazon prime music"]),
    ("amazon_downloads", &["amazon", "amazon mp3", "amazon music", "amazon digital", "amazon downloads"]),
    ("youtube_music", &["youtube music", "youtube (music)", "youtube red", "youtube premium"]),
    ("youtube_content_id", &["youtube content id", "youtube cid", "youtube ugc", "youtube"]),
    ("youtube_official_video", &["youtube official video", "youtube art tracks", "vevo"]),
    ("tidal", &["tidal", "wimp"]),
    ("deezer", &["deezer"]),
    ("pandora", &["pandora"]),
    ("soundcloud", &["soundcloud", "soundcloud go"]),
    ("tiktok", &["tiktok", "tik tok", "bytedance", "resso"]),
    ("meta", &["meta", "facebook", "instagram", "facebook/instagram", "facebook / instagram"]),
    ("tencent", &["tencent", "qq music", "kugou", "kuwo", "tencent music"]),
    ("netease", &["netease", "netease cloud music"]),
    ("jiosaavn", &["jiosaavn", "saavn"]),
    ("anghami", &["anghami"]),
    ("boomplay", &["boomplay"]),
    ("napster", &["napster", "rhapsody"]),
    ("qobuz", &["qobuz"]),
    ("beatport", &["beatport"]),
    ("audiomack", &["audiomack"]),
    ("kkbox", &["kkbox"]),
    ("line_music", &["line music", "line"]),
    ("yandex", &["yandex", "yandex music"]),
    ("peloton", &["peloton"]),
    ("shazam", &["shazam"]),
    ("bandcamp", &["bandcamp"]),
];

/// Result of normalising a store name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    /// The canonical id when known, else the name as written (trimmed).
    pub id: String,
    pub known: bool,
}

impl Store {
    pub fn parse(text: &str) -> Store {
        let key = text.trim().to_lowercase();
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        for (id, aliases) in STORES {
            if *id == key || aliases.contains(&key.as_str()) {
                return Store { id: (*id).to_string(), known: true };
            }
        }
        Store { id: text.trim().to_string(), known: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_unknowns() {
        assert_eq!(Store::parse(" Spotify ").id, "spotify");
        assert_eq!(Store::parse("iTunes").id, "itunes");
        assert_eq!(Store::parse("Facebook /  Instagram").id, "meta");
        let unknown = Store::parse("Joe's Radio");
        assert_eq!(unknown.id, "Joe's Radio");
        assert!(!unknown.known);
    }
}
