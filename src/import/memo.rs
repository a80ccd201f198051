//! Per-thread memo of text classifications that cost a regex match (profile value maps,
//! total/skip labels). Statement rows repeat the same few texts (a store, an offering, a
//! line type) millions of times; each distinct text is classified once per thread.
//!
//! Keys are (owner id, field, text): owner ids are unique per profile or reader in the
//! process, so a memo can never answer for another profile's patterns. A table that grows
//! past [`MAX_ENTRIES`] texts (free text in a classified column) is cleared, so memory stays
//! bounded and results stay correct (they are recomputed).

use std::cell::RefCell;
use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::ledger::LineText;

const MAX_ENTRIES: usize = 4096;

type Table<V> = HashMap<Box<str>, V, FixedState>;
type Tables<V> = RefCell<HashMap<(u64, &'static str), Table<V>, FixedState>>;

thread_local! {
    static MEMO: Tables<Option<LineText>> = RefCell::new(HashMap::default());
    static PERIODS: Tables<Result<crate::ledger::Period, String>> = RefCell::new(HashMap::default());
}

fn lookup<V: Clone>(tables: &'static std::thread::LocalKey<Tables<V>>, owner: u64, field: &'static str, text: &str, compute: impl FnOnce() -> V) -> V {
    let hit = tables.with(|m| m.borrow().get(&(owner, field)).and_then(|t| t.get(text).cloned()));
    if let Some(v) = hit {
        return v;
    }
    let v = compute();
    tables.with(|m| {
        let mut m = m.borrow_mut();
        let table = m.entry((owner, field)).or_default();
        if table.len() >= MAX_ENTRIES {
            table.clear();
        }
        table.insert(Box::from(text), v.clone());
    });
    v
}

/// `compute()` for `(owner, field, text)`, from the memo when this thread has seen it. The
/// result is an interned text: a hit costs no allocation.
pub fn memoised(owner: u64, field: &'static str, text: &str, compute: impl FnOnce() -> Option<LineText>) -> Option<LineText> {
    lookup(&MEMO, owner, field, text, compute)
}

/// [`memoised`] for a period parsed from text (same keys, same bound).
pub fn memoised_period(
    owner: u64,
    field: &'static str,
    text: &str,
    compute: impl FnOnce() -> Result<crate::ledger::Period, String>,
) -> Result<crate::ledger::Period, String> {
    lookup(&PERIODS, owner, field, text, compute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_per_text_and_keeps_owners_apart() {
        let mut calls = 0;
        for _ in 0..3 {
            assert_eq!(memoised(900_001, "f", "a", || { calls += 1; Some("x".into()) }), Some("x".into()));
        }
        assert_eq!(calls, 1);
        assert_eq!(memoised(900_002, "f", "a", || None), None);
        assert_eq!(memoised(900_001, "g", "a", || Some("y".into())), Some("y".into()));
        assert_eq!(memoised(900_001, "f", "a", || Some("changed".into())), Some("x".into()));
    }

    #[test]
    fn a_full_table_is_cleared_not_grown() {
        for i in 0..(MAX_ENTRIES + 10) {
            let t = i.to_string();
            assert_eq!(memoised(900_003, "f", &t, || Some(t.as_str().into())), Some(t.as_str().into()));
        }
        MEMO.with(|m| assert!(m.borrow().get(&(900_003, "f")).is_some_and(|t| t.len() <= MAX_ENTRIES)));
    }
}
