#![no_main]
//! Any text as a DDEX DSR flat file. Every line must be accounted for.
use libfuzzer_sys::fuzz_target;
use royalty_audit::import::dsrf::import_dsrf;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let f = import_dsrf("DSR_fuzz_1of1_x.tsv", &text, "ddex-dsr");
    assert!(f.rows_balance());
});
