#![no_main]
//! Contract loading: any text either loads or gives an error with a position inside the
//! text; a contract that loads can be described and audited (on no statements) without
//! panicking. Seed it with rules/contracts/*.toml.
use libfuzzer_sys::fuzz_target;
use royalty_audit::contract::{describe::describe, parse_contract};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match parse_contract(text, "fuzz.toml") {
            Ok(c) => {
                let _ = describe(&c);
                let _ = royalty_audit::engine::run(&c, &[], &Default::default());
            }
            Err(e) => {
                let lines = text.lines().count().max(1);
                assert!(e.line <= lines + 1, "error line {} past the end ({lines} lines): {e}", e.line);
                assert!(!e.message.is_empty());
            }
        }
    }
});
