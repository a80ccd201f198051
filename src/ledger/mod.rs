//! The common ledger every importer writes and every check reads: exact decimal money,
//! validated identifiers and a source reference on every line.

pub mod currency;
pub mod ids;
pub mod line;
pub mod period;
pub mod source;
pub mod store;
pub mod territory;

pub use currency::Currency;
pub use line::{intern, FreeText, IncomeType, LedgerLine, LineDetails, LineFlag, LineKind, LineText, StatementKind};
pub use period::{Period, PeriodKind};
pub use source::SourceRef;
pub use store::Store;
pub use territory::Territory;
