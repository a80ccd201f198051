//! royalty-audit: audit music royalty statements against contract terms.
//!
//! Stages (each takes the previous one's value): [`import`] statements into the common
//! [`ledger`], then (later stages) recompute and check, then [`report`].

pub mod cli;
pub mod contract;
pub mod engine;
pub mod import;
pub mod ledger;
pub mod prefetch;
pub mod report;
pub mod timings;
