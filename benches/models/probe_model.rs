//! A model of the streaming roll-up's key lookups, outside the importer (session 13): how
//! long 10M rows over 480,000 keys take to find their key and add to its sums on two
//! threads, laid out three ways. Not part of the build or the tests; run it by hand:
//!
//!     rustc -O -C codegen-units=1 benches/models/probe_model.rs -o /tmp/probe_model
//!     /tmp/probe_model c      # the scan alone (key bytes built, text touched)
//!     /tmp/probe_model a      # as the importer does it: 8-byte index slots, 128-byte entries
//!                             # holding the key bytes (compared), 32-byte tallies per thread,
//!                             # probed 16 rows at a time
//!     /tmp/probe_model s      # 16-byte slots holding an exact key code, no entries
//!     /tmp/probe_model b W P  # rows of a window of W written into P partitions, then each
//!                             # partition added into its own small table
//!
//! Seen on the 2-core VM (medians of 3, noisy): c ~0.08 s, a ~0.65–0.94 s, s ~0.40–0.53 s,
//! b (2,000,000 rows, 1,024 partitions) ~0.28–0.55 s. In the importer the same change as `s`
//! (session 9, and a fingerprint version in session 13) did not make the DSP stage faster,
//! so the model overstates what fewer cache lines per row give there; see docs/import.md.

use std::time::Instant;

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

const KEYS: u64 = 480_000;
const ROWS: usize = 10_000_000;
const KEYLEN: usize = 88;

#[repr(C)]
#[derive(Clone)]
struct Entry {
    hash: u64,
    first_row: u64,
    cur: u32,
    careful: bool,
    len: u8,
    key: [u8; 104],
}

struct Table {
    index: Vec<u64>,
    entries: Vec<Entry>,
}

fn key_bytes(k: u64, out: &mut [u8; KEYLEN]) {
    for i in 0..KEYLEN / 8 {
        out[i * 8..i * 8 + 8].copy_from_slice(&mix(k ^ (i as u64) << 40).to_le_bytes());
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or("a".into());
    let window: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(600_000);
    let parts: usize = std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    // rows: key ids
    let rows: Vec<u32> = (0..ROWS)
        .map(|i| (mix(i as u64 * 7 + 1) % KEYS) as u32)
        .collect();
    // text to stream through (simulating the chunk text the scan reads): 109 B per row
    let text: Vec<u8> = (0..ROWS * 109 / 8)
        .flat_map(|i| mix(i as u64).to_le_bytes())
        .collect();
    // table
    let cap = (KEYS as usize * 2).next_power_of_two();
    let mut t = Table {
        index: vec![0; cap],
        entries: Vec::with_capacity(KEYS as usize),
    };
    let mut kb = [0u8; KEYLEN];
    for k in 0..KEYS {
        key_bytes(k, &mut kb);
        let h = mix(k);
        let mut e = Entry {
            hash: h,
            first_row: 0,
            cur: 1,
            careful: false,
            len: KEYLEN as u8,
            key: [0; 104],
        };
        e.key[..KEYLEN].copy_from_slice(&kb);
        let mut at = h as usize & (cap - 1);
        while t.index[at] != 0 {
            at = (at + 1) & (cap - 1);
        }
        t.index[at] = (h >> 32) << 32 | (t.entries.len() as u64 + 1);
        t.entries.push(e);
    }
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|w| {
                let (rows, text, t) = (&rows, &text, &t);
                let mode = mode.clone();
                s.spawn(move || {
                    let my: Vec<usize> = (0..ROWS).filter(|i| (i / 38000) % 2 == w).collect();
                    let mut sink = 0u64;
                    if mode == "c" {
                        for &i in &my {
                            let k = rows[i] as u64;
                            key_bytes(k, &mut kb.clone());
                            sink = sink.wrapping_add(text[i * 109] as u64) ^ mix(k);
                        }
                        return sink;
                    }
                    if mode == "s" {
                        // coded: index slots of (code, position) 16 B, no entries; per-thread tallies
                        let cap = (KEYS as usize * 2).next_power_of_two();
                        let mut slots = vec![(0u64, 0u32); cap];
                        for k in 0..KEYS {
                            let h = mix(k);
                            let mut at = h as usize & (cap - 1);
                            while slots[at].1 != 0 {
                                at = (at + 1) & (cap - 1);
                            }
                            slots[at] = (k, k as u32 + 1);
                        }
                        let mut tallies = vec![[0u64; 4]; KEYS as usize];
                        for batch in my.chunks(16) {
                            let mut hs = [0u64; 16];
                            let mut ks = [0u64; 16];
                            for (j, &i) in batch.iter().enumerate() {
                                let k = rows[i] as u64;
                                key_bytes(k, &mut kb.clone());
                                ks[j] = k;
                                hs[j] = mix(k);
                                sink = sink.wrapping_add(text[i * 109] as u64);
                            }
                            let mask = cap - 1;
                            let mut pos = [0usize; 16];
                            for j in 0..batch.len() {
                                let mut at = hs[j] as usize & mask;
                                loop {
                                    let s = slots[at];
                                    if s.0 == ks[j] && s.1 != 0 {
                                        pos[j] = (s.1 - 1) as usize;
                                        break;
                                    }
                                    at = (at + 1) & mask;
                                }
                            }
                            for j in 0..batch.len() {
                                let tl = &mut tallies[pos[j]];
                                tl[0] += 1;
                                tl[1] = tl[1].wrapping_add(batch[j] as u64);
                                tl[2] = tl[2].wrapping_add(3);
                                tl[3] ^= 5;
                            }
                        }
                        return sink ^ tallies[5][1];
                    }
                    if mode == "a" {
                        let mut tallies = vec![[0u64; 4]; KEYS as usize];
                        let mut keys = vec![[0u8; KEYLEN]; 16];
                        for batch in my.chunks(16) {
                            let mut hashes = [0u64; 16];
                            for (j, &i) in batch.iter().enumerate() {
                                let k = rows[i] as u64;
                                key_bytes(k, &mut keys[j]);
                                hashes[j] = mix(k);
                                sink = sink.wrapping_add(text[i * 109] as u64);
                            }
                            let mask = t.index.len() - 1;
                            let mut slots = [0u64; 16];
                            for j in 0..batch.len() {
                                slots[j] = t.index[hashes[j] as usize & mask];
                            }
                            let mut seen = 0u64;
                            for j in 0..batch.len() {
                                if slots[j] != 0 {
                                    seen ^= t.entries[(slots[j] as u32 - 1) as usize].first_row;
                                }
                            }
                            std::hint::black_box(seen);
                            for j in 0..batch.len() {
                                let (mut at, mut slot) = (hashes[j] as usize & mask, slots[j]);
                                let pos = loop {
                                    if slot >> 32 == hashes[j] >> 32 {
                                        let p = (slot as u32 - 1) as usize;
                                        if t.entries[p].key[..KEYLEN] == keys[j][..] {
                                            break p;
                                        }
                                    }
                                    at = (at + 1) & mask;
                                    slot = t.index[at];
                                };
                                let tl = &mut tallies[pos];
                                tl[0] += 1;
                                tl[1] = tl[1].wrapping_add(batch[j] as u64);
                                tl[2] = tl[2].wrapping_add(3);
                                tl[3] ^= 5;
                            }
                        }
                        sink ^ tallies[5][1]
                    } else {
                        // partitioned: scan writes records (code, row, 3 nums) into partition buffers; per window aggregate
                        let pcap = ((KEYS as usize / parts) * 2).next_power_of_two() * 2;
                        let mut subs: Vec<(Vec<u32>, Vec<u64>, Vec<[u64; 4]>)> = (0..parts)
                            .map(|_| (vec![0u32; pcap], Vec::new(), Vec::new()))
                            .collect();
                        let mut bufs: Vec<Vec<[u64; 6]>> = (0..parts).map(|_| Vec::new()).collect();
                        for win in my.chunks(window / 2) {
                            for &i in win {
                                let k = rows[i] as u64;
                                key_bytes(k, &mut kb.clone());
                                sink = sink.wrapping_add(text[i * 109] as u64);
                                let code = k;
                                let h = mix(code);
                                let p = (h >> 56) as usize % parts;
                                bufs[p].push([code, i as u64, h, 1, 2, 3]);
                            }
                            for p in 0..parts {
                                let (idx, codes, tal) = &mut subs[p];
                                let mask = idx.len() - 1;
                                for r in bufs[p].drain(..) {
                                    let mut at = r[2] as usize & mask;
                                    let pos = loop {
                                        let s = idx[at];
                                        if s == 0 {
                                            codes.push(r[0]);
                                            tal.push([0; 4]);
                                            idx[at] = codes.len() as u32;
                                            break codes.len() - 1;
                                        }
                                        if codes[(s - 1) as usize] == r[0] {
                                            break (s - 1) as usize;
                                        }
                                        at = (at + 1) & mask;
                                    };
                                    let tl = &mut tal[pos];
                                    tl[0] += 1;
                                    tl[1] = tl[1].wrapping_add(r[1]);
                                    tl[2] = tl[2].wrapping_add(r[4]);
                                    tl[3] ^= r[5];
                                }
                            }
                        }
                        sink ^ subs[3].2.len() as u64
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    println!(
        "{mode} window {window} parts {parts}: {:.3} s ({})",
        start.elapsed().as_secs_f64(),
        total % 7
    );
}
