#![no_main]
//! Any bytes as a CSV/TSV statement: decode, sniff, read, detect a profile, import.
//! Every row must be accounted for.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use royalty_audit::import::{ImportOptions, import_bytes, load_profiles};

static OPTS: LazyLock<ImportOptions> =
    LazyLock::new(|| ImportOptions::new(load_profiles(None).expect("bundled profiles"), None));

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = import_bytes("fuzz.csv", data.to_vec(), &OPTS) {
        for f in files {
            assert!(f.rows_balance());
        }
    }
});
