#![no_main]
//! Cell parsing: numbers in both decimal conventions, dates, periods, identifiers.
use libfuzzer_sys::fuzz_target;
use royalty_audit::import::cells::{NumberFormat, parse_date, parse_decimal, parse_period};
use royalty_audit::ledger::ids::{parse_isrc, parse_iswc, parse_upc};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(d) = parse_decimal(s, NumberFormat::default()) {
            // What parses must parse again from its canonical text to the same value.
            assert_eq!(parse_decimal(&d.to_string(), NumberFormat::default()).ok(), Some(d));
        }
        let _ = parse_decimal(s, NumberFormat { decimal: ',' });
        let _ = parse_date(s, None);
        let _ = parse_date(s, Some("%d/%m/%Y"));
        let _ = parse_period(s, None);
        let _ = parse_period(s, Some("%Y-%m"));
        let _ = parse_isrc(s);
        let _ = parse_upc(s);
        let _ = parse_iswc(s);
    }
});
