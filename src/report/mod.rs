//! Everything the tool prints or writes.

pub mod import_summary;
pub mod audit;
pub mod claim;
pub mod charts;
pub mod ledger_parquet;
