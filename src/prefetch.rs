//! Cache hints for loops that read large tables at random: the item a few steps ahead is
//! asked for now, so that its cache misses overlap the work in between instead of holding
//! up the step that reads it. Reading the item ahead (an ordinary load) does not do it when
//! a step is long: the load waits at the head of the processor's window of instructions
//! and stops everything behind it. A prefetch retires at once.

/// Ask the processor to bring `value`'s cache lines in (all of them, up to 6: a ledger line
/// is 352 bytes), without waiting for them. A hint only: nothing is read into the program.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    let at: *const u8 = (value as *const T).cast();
    let lines = std::mem::size_of::<T>().div_ceil(64).clamp(1, 6);
    for k in 0..lines {
        line(at.wrapping_add(64 * k));
    }
}

#[inline(always)]
fn line(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing into the program and cannot fault, whatever the
    // address (Intel SDM, PREFETCHh; AMD APM, PREFETCHlevel), and SSE is part of x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(at.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefetching_changes_nothing() {
        let v: Vec<[u64; 40]> = (0..100).map(|i| [i; 40]).collect();
        for x in &v {
            super::prefetch(x);
        }
        super::prefetch(&0u8);
        assert!(v.iter().enumerate().all(|(i, x)| x.iter().all(|y| *y == i as u64)));
    }
}
