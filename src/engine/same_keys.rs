//! Items grouped by equal keys, found by their keys' hashes sorted: equal keys (and the rare
//! keys whose hashes collide) sit side by side and are read in order. Grouping hundreds of
//! thousands of lines this way reads memory in order; a hash table that large misses the
//! cache on nearly every probe (the income check's label groups and sales join took 0.5 s at
//! 10M rows that way, the repeated-sales check ~80 ms more than now).

/// The hashes of the items' keys with the items' positions, sorted (items without a key are
/// left out; so are positions past 4 billion: no ledger held in memory has that many lines).
pub fn by_hash<K>(keys: impl Iterator<Item = Option<K>>, hash: impl Fn(&K) -> u64) -> Vec<(u64, u32)> {
    let mut v: Vec<(u64, u32)> = keys.enumerate().filter_map(|(i, k)| Some((hash(&k?), u32::try_from(i).ok()?))).collect();
    sort_by_first(&mut v);
    v
}

/// Pairs sorted by their first number; pairs with equal first numbers keep their order (a
/// stable radix sort, `radsort`: a counting pass per byte of the number that differs among
/// the pairs). Pairs given with their second numbers ascending, as positions are, come out
/// as `sort_unstable` would put them. The sorts of hashes and rows of a large audit (each
/// of hundreds of thousands of pairs) took ~130M instructions each as comparison sorts.
pub fn sort_by_first<T>(v: &mut [(u64, T)]) {
    radsort::sort_by_key(v, |p| p.0);
}

/// For each of `n` items, the position of the first item with an equal key (its own when it
/// is the first, or has no key); and the first items of the distinct keys with their
/// hashes, in [`by_hash`]'s order (the distinct keys sorted as a join on them needs them).
/// `key(i)` is worked out again where keys are compared: no key is kept for every item.
pub fn first_of_same<K: PartialEq>(n: usize, key: impl Fn(usize) -> Option<K>, hash: impl Fn(&K) -> u64) -> (Vec<usize>, Vec<(u64, u32)>) {
    let sorted = by_hash((0..n).map(&key), hash);
    first_of_same_sorted(n, sorted, key)
}

/// [`first_of_same`] with the keys' hashes already worked out and sorted, as [`by_hash`]
/// gives them (by a caller that hashed each key in a pass over the items it made anyway).
pub fn first_of_same_sorted<K: PartialEq>(n: usize, sorted: Vec<(u64, u32)>, key: impl Fn(usize) -> Option<K>) -> (Vec<usize>, Vec<(u64, u32)>) {
    let mut first: Vec<usize> = (0..n).collect();
    let mut firsts = Vec::new();
    for run in sorted.chunk_by(|a, b| a.0 == b.0) {
        if let [only] = run {
            firsts.push(*only);
            continue;
        }
        // Positions ascend within a run; the distinct keys of a run (almost always one)
        // with their first position.
        let mut distinct: smallvec::SmallVec<[(K, u32); 1]> = smallvec::SmallVec::new();
        for &(h, i) in run {
            let Some(k) = key(i as usize) else { continue };
            match distinct.iter().find(|(d, _)| *d == k) {
                Some((_, f)) => {
                    if let Some(slot) = first.get_mut(i as usize) {
                        *slot = *f as usize;
                    }
                }
                None => {
                    distinct.push((k, i));
                    firsts.push((h, i));
                }
            }
        }
    }
    (first, firsts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(k: &(&str, u32)) -> u64 {
        std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::default(), k)
    }

    #[test]
    fn items_are_grouped_with_the_first_of_the_same_key_even_when_hashes_collide() {
        let (a, b, c) = (("Spotify", 1), ("Spotify", 2), ("Deezer", 1));
        let items = [Some(a), Some(b), Some(a), None, Some(b), Some(c), Some(a)];
        let key = |i: usize| items.get(i).copied().flatten();
        let want = vec![0, 1, 0, 3, 1, 5, 0];
        assert_eq!(first_of_same(items.len(), key, hash).0, want);
        assert_eq!(first_of_same(items.len(), key, |_| 7).0, want, "every hash the same");
        // The first items of the distinct keys, as by_hash sorts those keys.
        let distinct = [a, b, c];
        let (_, firsts) = first_of_same(items.len(), key, hash);
        let want_sorted: Vec<(u64, u32)> = by_hash(distinct.iter().copied().map(Some), hash).into_iter().map(|(h, i)| (h, [0, 1, 5][i as usize])).collect();
        assert_eq!(firsts, want_sorted);
        assert_eq!(first_of_same(items.len(), key, |_| 7).1, vec![(7, 0), (7, 1), (7, 5)]);
    }

    proptest::proptest! {
        #[test]
        fn pairs_sort_by_first_as_a_comparison_sort_puts_them(
            firsts in proptest::collection::vec(proptest::prop_oneof![0u64..4, proptest::num::u64::ANY], 0..300),
        ) {
            // Second numbers ascend as given (positions), with repeats of first numbers.
            let mut pairs: Vec<(u64, u32)> = firsts.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect();
            let mut want = pairs.clone();
            want.sort_unstable();
            sort_by_first(&mut pairs);
            proptest::prop_assert_eq!(pairs, want);
        }
    }
}
