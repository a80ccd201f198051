//! One module per group of audit rules (domain.md §6.2). Each reads the context and appends
//! findings; none reads another's output except where noted (D1 discounts A3 footing errors,
//! A5 statement gaps skip periods already claimed by the completeness check).

pub mod distribution;
pub mod fx;
pub mod income;
pub mod integrity;
pub mod producers;
pub mod rates;
pub mod recoupment;
pub mod reserves;
pub mod timing;
