//! Per-thread memo of text classifications that cost a regex match (profile value maps,
//! total/skip labels). Statement rows repeat the same few texts (a store, an offering, a
//! line type) millions of times; each distinct text is classified once per thread.
//!
//! Keys are (owner id, field, text): owner ids are unique per profile or reader in the
//! process, so a memo can never answer for another profile's patterns. An (owner, field)
//! whose texts pass [`MAX_ENTRIES`] (free text in a classified column) has them removed, so
//! memory stays bounded and results stay correct (they are recomputed).

use std::cell::RefCell;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;

use crate::ledger::LineText;

const MAX_ENTRIES: usize = 4096;

/// One table for every (owner, field, text) of a thread, found with one hash of the three
/// (the field by the address and length of its name, a static text: equal names at two
/// addresses would only keep two copies of the same answers), and how many texts each
/// (owner, field) holds.
struct Memo<V> {
    table: hashbrown::HashTable<Entry<V>>,
    counts: Vec<(Field, usize)>,
}

type Field = (u64, usize, usize);

struct Entry<V> {
    field: Field,
    text: Box<str>,
    value: V,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo { table: hashbrown::HashTable::new(), counts: Vec::new() }
    }
}

type Tables<V> = RefCell<Memo<V>>;

thread_local! {
    static MEMO: Tables<Option<LineText>> = RefCell::new(Memo::default());
    static PERIODS: Tables<Result<crate::ledger::Period, String>> = RefCell::new(Memo::default());
}

fn hash_of(field: Field, text: &str) -> u64 {
    FixedState::default().hash_one((field, text))
}

fn lookup<V: Clone>(tables: &'static std::thread::LocalKey<Tables<V>>, owner: u64, field: &'static str, text: &str, compute: impl FnOnce() -> V) -> V {
    let key = (owner, field.as_ptr() as usize, field.len());
    let hash = hash_of(key, text);
    let hit = tables.with(|m| m.borrow().table.find(hash, |e| e.field == key && &*e.text == text).map(|e| e.value.clone()));
    if let Some(v) = hit {
        return v;
    }
    let v = compute();
    tables.with(|m| {
        let mut m = m.borrow_mut();
        let Memo { table, counts } = &mut *m;
        let at = match counts.iter().position(|(f, _)| *f == key) {
            Some(at) => at,
            None => {
                counts.push((key, 0));
                counts.len() - 1
            }
        };
        if let Some((_, count)) = counts.get_mut(at) {
            if *count >= MAX_ENTRIES {
                table.retain(|e| e.field != key);
                *count = 0;
            }
            *count += 1;
        }
        table.insert_unique(hash, Entry { field: key, text: Box::from(text), value: v.clone() }, |e| hash_of(e.field, &e.text));
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
        MEMO.with(|m| {
            let m = m.borrow();
            let held = m.table.iter().filter(|e| e.field.0 == 900_003).count();
            assert!(held > 0 && held <= MAX_ENTRIES, "{held}");
        });
    }
}
