//! Streaming import of large delimited files: bounded memory and both cores.
//!
//! A file is read in chunks of text cut at line ends outside quotes; worker threads read
//! the chunks with [`visit_chunk`] (the csv crate's rows, plain lines split directly) and
//! the same row reader as the in-memory path ([`SheetReader`]), so rows are numbered,
//! classified, parsed and rejected exactly as there.
//!
//! Sales files (distributor and DSP reports, the data an audit checks the label against)
//! are **rolled up** as they are read: income rows that agree on every field but the money
//! and quantity fields and the descriptive texts (title, artist, release title,
//! description, reference) become one ledger line whose money fields are the exact sums
//! and whose `rows` says how many source rows it holds; its `source` is the first of them.
//! With [`RollUp::territory_groups`] the territory is replaced by the contract's territory
//! group (when the label's statements do not report territories, that is all an audit can
//! match on). Memory then grows with the number of distinct keys, not with the file.
//! Everything else (rejects, non-data rows, other line kinds) is kept row by row.
//!
//! The first row of each key is read by the full row reader. Later rows with the same raw
//! key only have their money fields read, by a plain-number parser; any row that is not
//! plain (a number with separators or symbols, a possible total or skip label, a row wider
//! than the header, the cut last line…) goes through the full reader, so a rolled-up line
//! is always the sum of what the in-memory path would have produced (a property test checks
//! this).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Read;
use std::sync::{Mutex, RwLock, mpsc};

use encoding_rs::Encoding;
use rust_decimal::Decimal;

use super::delimited::{ChunkRow, TextRow, sniff_delimiter, visit_chunk};
use super::grid::{Cell, Grid, MAX_CELL_BYTES, Row};
use super::outcome::{FileImport, NonData, Reject};
use super::plain_number::{ExactSum, PlainNumber, ScaledSum, narrow_plus, plain_number};
use super::text_chunks::{READ_BYTES, TextSource, chunk_text, last_line_end, line_ends, read_head, split_off_front};
use super::table::{ColumnMap, RowFigures, RowOutcome, SheetReader, check_totals, find_header};
use super::{ImportOptions, Profile, ReaderKind, RollUp, detect_profile};
use crate::ledger::{Currency, LedgerLine, LineFlag, LineKind, StatementKind, Territory};

/// Text handed to a worker at a time (cut at the next line end outside quotes).
pub const CHUNK_BYTES: usize = 4 << 20;

/// The chunk size for a mapped file of `len` bytes read by `threads` workers: `chunk_bytes`,
/// or less for a file of fewer than ~16 chunks a worker (down to 1 MiB), so that the last
/// chunks, read while other workers have none left, are short. (A 46 MB label statement
/// was 11 chunks of 4 MiB for two workers: one worker read the last alone, ~40 ms.)
fn chunk_size(chunk_bytes: usize, len: u64, threads: usize) -> usize {
    let even = usize::try_from(len / (threads.max(1) as u64 * 16)).unwrap_or(usize::MAX).max(1 << 20);
    chunk_bytes.min(even).max(1)
}

/// A quoted field this long without a closing quote means a damaged file.
const MAX_PENDING_BYTES: usize = 256 << 20;

/// Fields summed when rows are rolled up.
const ADDITIVE: [&str; 9] = ["units", "free_units", "gross", "fees", "taxes", "net", "royalty", "amount", "original_amount"];
/// Fields whose first value is kept when rows are rolled up.
const DESCRIPTIVE: [&str; 5] = ["title", "release_title", "artist", "description", "reference"];

/// Why the streaming path declined a file (the in-memory path reads it instead).
#[derive(Debug)]
pub enum Declined {
    /// Not a delimited table this path reads (DSR flat file, old Mac line ends…).
    NotStreamable,
    Error(String),
}

impl From<String> for Declined {
    fn from(e: String) -> Self {
        Declined::Error(e)
    }
}

/// Sums of control-column figures by (currency, column); the [`ROWS`] column counts the data
/// rows of each currency, so that a section's currencies are those of its own rows.
#[derive(Debug, Clone, Default)]
struct FigureSums(Vec<(Option<Currency>, usize, Decimal)>);

/// The pseudo-column of [`FigureSums`] that counts rows.
const ROWS: usize = usize::MAX;

impl FigureSums {
    fn add(&mut self, currency: Option<Currency>, column: usize, v: Decimal) {
        match self.0.iter_mut().find(|(c, k, _)| *c == currency && *k == column) {
            Some(e) => e.2 += v,
            None => self.0.push((currency, column, v)),
        }
    }

    fn add_row(&mut self, f: &RowFigures) {
        self.add(f.currency, ROWS, Decimal::ONE);
        for (col, v) in &f.by_column {
            self.add(f.currency, *col, *v);
        }
    }

    /// `self + sign × other`.
    fn combined(&self, other: &FigureSums, sign: Decimal) -> FigureSums {
        let mut out = self.clone();
        for (c, k, v) in &other.0 {
            out.add(*c, *k, sign * *v);
        }
        out
    }

    /// As row figures, one per currency with rows, for [`check_totals`].
    fn as_rows(&self) -> Vec<RowFigures> {
        let mut out: Vec<RowFigures> = self
            .0
            .iter()
            .filter(|(_, k, n)| *k == ROWS && !n.is_zero())
            .map(|(c, ..)| RowFigures { currency: *c, by_column: smallvec::SmallVec::new() })
            .collect();
        for (c, k, v) in self.0.iter().filter(|(_, k, _)| *k != ROWS) {
            if let Some(f) = out.iter_mut().find(|f| f.currency == *c) {
                f.by_column.push((*k, *v));
            }
        }
        out
    }
}

/// A total or subtotal row met in a chunk, with the figures of the chunk's rows before it.
struct TotalRow {
    row: Row,
    is_total: bool,
    before: FigureSums,
}

/// What one chunk produced besides rolled-up lines.
#[derive(Default)]
struct ChunkOut {
    rows_read: u64,
    lines: Vec<LedgerLine>,
    rejects: Vec<Reject>,
    nondata: Vec<NonData>,
    notes: Vec<String>,
    totals: Vec<TotalRow>,
    figures: FigureSums,
    /// Figures of plain rows not yet in `figures`.
    plain_figures: PlainFigures,
    /// Byte-order marks removed from the chunk's text.
    inner_boms: usize,
    /// Lines read by the full reader, waiting to be rolled up (under one lock, before the
    /// table is next probed: see [`Plan::table`]); empty when the chunk is done.
    rolled: RolledLines,
}

/// Lines of the full reader for the rolled-up table, in row order, with their keys.
#[derive(Default)]
struct RolledLines {
    lines: Vec<RolledLine>,
    keys: Vec<u8>,
    /// Where each line goes (a buffer kept from one roll-up to the next).
    placements: Vec<Placement>,
}

struct RolledLine {
    hash: u64,
    key: std::ops::Range<usize>,
    careful: bool,
    line: LedgerLine,
}

impl ChunkOut {
    /// Bring the plain rows' figures into `figures` (before they are read).
    fn fold_plain_figures(&mut self, roll: Option<&Roll<'_>>) {
        if let Some(roll) = roll {
            self.plain_figures.fold(&roll.controls, &mut self.figures);
        }
    }
}

/// Control figures of plain rows by currency: rows, and exact sums by position in
/// [`Roll::controls`] (kept by scale, [`ScaledSum`]: every plain row adds to them).
#[derive(Default)]
struct PlainFigures(Vec<PlainFigure>);

struct PlainFigure {
    currency: Currency,
    rows: u64,
    sums: [ScaledSum; ADDITIVE.len()],
}

impl PlainFigures {
    fn add(&mut self, roll: &Roll<'_>, currency: Currency, values: PlainValues<'_>) {
        let at = match self.0.iter().position(|f| f.currency == currency) {
            Some(at) => at,
            None => {
                self.0.push(PlainFigure { currency, rows: 0, sums: [ScaledSum::default(); ADDITIVE.len()] });
                self.0.len() - 1
            }
        };
        let Some(f) = self.0.get_mut(at) else { return };
        f.rows += 1;
        for ((_, k), sum) in roll.controls.iter().zip(f.sums.iter_mut()) {
            if values.present & (1 << k) != 0
                && let Some(&n) = values.numbers.get(*k)
            {
                sum.add(n);
            }
        }
    }

    fn fold(&mut self, controls: &[(usize, usize)], figures: &mut FigureSums) {
        for f in self.0.drain(..) {
            figures.add(Some(f.currency), ROWS, Decimal::from(f.rows));
            for ((col, _), sum) in controls.iter().zip(&f.sums) {
                for part in sum.parts() {
                    figures.add(Some(f.currency), *col, part);
                }
            }
        }
    }
}

/// Why a file whose chunk finds no line end within [`MAX_PENDING_BYTES`] is refused.
fn unbalanced_quote(first_line: u64) -> String {
    format!("line {first_line}: a quoted field runs on for more than {} MiB; the file is damaged (unbalanced quote)", MAX_PENDING_BYTES >> 20)
}

/// A chunk's bytes: read into a buffer, or in a window of the file mapped into memory.
enum ChunkBytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap, std::ops::Range<usize>),
}

/// Where a chunk of a mapped file ends in `window`, the bytes from the chunk's start on (to
/// the end of the file when `to_end`): in a window of the chunk's size (`narrow`), after its
/// last line end outside quotes; in a wider one (a quoted field ran past the narrow one), at
/// its first line end; at the end of the file when that comes first. `None`: no line end in
/// the window. As the chunks of a file read into buffers are cut.
fn chunk_end(window: &[u8], narrow: bool, to_end: bool) -> Option<usize> {
    match (narrow, to_end) {
        (true, true) => Some(window.len()),
        (true, false) => last_line_end(window),
        (false, _) => line_ends(window).next().or(to_end.then_some(window.len())),
    }
}

/// A chunk's result and its place in the file.
type IndexedChunk = (usize, Result<ChunkOut, String>);

/// What the workers share about the file.
struct Plan<'a> {
    reader: SheetReader<'a>,
    header_line: u64,
    delimiter: u8,
    roll: Option<Roll<'a>>,
}

/// How rows are rolled up.
struct Roll<'a> {
    /// Columns whose raw text is part of the key.
    key_columns: Vec<usize>,
    /// The same, in column order.
    key_columns_in_order: Vec<usize>,
    /// The territory column, replaced in the key by its group.
    territory: Option<(usize, &'a super::TerritoryGroups)>,
    /// (field index in [`ADDITIVE`], column); a plain row's values and an entry's sums
    /// are kept by position in this list.
    additive: Vec<(usize, usize)>,
    /// Additive fields an empty cell cannot simply leave out (required, or with a constant).
    additive_strict: Vec<bool>,
    /// Descriptive columns that must not be empty.
    required_descriptive: Vec<usize>,
    /// Control columns: (column, index into `additive`).
    controls: Vec<(usize, usize)>,
    decimal: u8,
    /// The profile gives a territory for rows without one.
    territory_constant: bool,
    table: RwLock<Table>,
    lines: Mutex<RolledStore>,
    /// The workers' tallies, handed in as each worker stops.
    tallies: Mutex<Vec<Tallies>>,
    hasher: foldhash::fast::FixedState,
}

/// The keys of the rolled-up lines of a file: an index from raw key to an [`Entry`], whose
/// position is its line's in the [`RolledStore`]. Plain rows only read their entry (under a
/// read lock, so the workers probe at once) and add to their worker's [`Tallies`], so that
/// adding a row costs a probe and a few cache lines, not a visit to a large ledger line,
/// and no worker writes where the other reads. The keys of lines of the full reader are
/// entered under the write lock; the lines are placed after it is let go.
///
/// The index is open addressing with linear probing, 8 bytes a slot (`0`: empty, else the
/// hash's high 32 bits and the position + 1), kept at most half full. Rows are probed in
/// batches ([`Table::find_many`]) so that the memory loads of a batch overlap: a probe into
/// a table of hundreds of thousands of keys misses every cache, and one at a time each miss
/// is waited for in turn.
#[derive(Default)]
struct Table {
    index: Vec<u64>,
    entries: Vec<Entry>,
}

/// The rolled-up lines, by the position of their key's entry in the [`Table`]. Kept under a
/// lock of their own: a worker places the lines of the keys it entered after it has let go
/// of the table, so that the other workers probe on while it copies the lines (large, and
/// each new page of them is a page fault) into place.
#[derive(Default)]
struct RolledStore {
    /// The line of each entry (`None` only until the worker that entered the key places it).
    placed: Vec<Option<LedgerLine>>,
    /// Lines of the full reader for keys that had an entry already (another worker entered
    /// the key first, or a row the plain path could not take), rolled in when the file is
    /// done, by entry and row: the sums are then the same whatever the workers' timing.
    extra: Vec<(usize, LedgerLine)>,
}

/// Where a line of the full reader goes: a new key's entry, or the entry of its key.
#[derive(Clone, Copy)]
enum Placement {
    New(usize),
    Existing(usize),
}

/// Plain rows of a chunk waiting to be added (in row order), with their keys' bytes.
#[derive(Default)]
struct Pending {
    rows: Vec<PendingRow>,
    keys: Vec<u8>,
    /// The rows' additive numbers, as many for each row as [`Roll::additive`] has (kept
    /// apart so that a row is pushed as a few words, not as a copy of all its numbers).
    numbers: Vec<PlainNumber>,
}

impl Pending {
    fn clear(&mut self) {
        self.rows.clear();
        self.keys.clear();
        self.numbers.clear();
    }
}

struct PendingRow {
    number: u64,
    hash: u64,
    key: std::ops::Range<usize>,
    /// The line's text in the chunk (without its line end).
    line: std::ops::Range<usize>,
    /// One bit for each non-empty additive cell (its number is in [`Pending::numbers`]).
    present: u16,
}

/// A plain row's additive values by position in [`Roll::additive`] (`present`: one bit for
/// each non-empty cell; an empty one's number is zero).
#[derive(Clone, Copy)]
struct PlainValues<'v> {
    numbers: &'v [PlainNumber],
    present: u16,
}

/// Plain rows gathered before they are added under one lock.
const PENDING_ROWS: usize = 1024;

/// Lines of the full reader a worker keeps waiting while another holds the table: below
/// this, it probes on and rolls them up at a later flush (their keys' next rows meanwhile
/// take the full reader, and roll up the same); at this many it waits for the table.
const ROLLED_WAIT: usize = 4096;

/// Rows probed together by [`Table::find_many`].
const PROBE_BATCH: usize = 16;

/// Key bytes kept in the entry itself up to this length (a probe then reads one place).
/// A DSP report's key (sale period, store, offering, ISRC, UPC, sale type, currency and
/// territory group, with separators) runs to 70–100 bytes: with 64, every key of the
/// benchmark's report was on the heap, a second cache miss per probe.
const INLINE_KEY: usize = 104;

/// What the plain rows of a key need, apart from the line itself (their sums are in the
/// workers' [`Tallies`]). The key's hash is kept so that a probe compares bytes only when
/// the hashes agree. Laid out in this order (`repr(C)`): what every probe reads comes first,
/// on the cache line where the key starts.
#[repr(C)]
struct Entry {
    hash: u64,
    /// The line's first row (rows before it take the full reader, which re-describes the line).
    first_row: u64,
    currency: Currency,
    /// A key cell looks like a total/skip label, or every key cell equals its header: the
    /// key's rows always take the full reader.
    careful: bool,
    key: KeyBytes,
}

/// A worker's plain rows by entry (the table's positions), kept apart from the shared table
/// so that adding a row writes only to the worker's own memory. For each entry, in words of
/// 8 bytes: a head (the rows added, one bit for each additive column they had a value in,
/// a bit for sums moved to [`Tallies::wide`], and with up to three columns their scales),
/// the columns' scales in a word of their own when there are more, then each column's
/// exact sum as an `i64` mantissa at its scale. An entry takes 32 bytes with up to three
/// money columns (two entries a cache line: a plain row's add misses the caches on its
/// tally, and the smaller the tallies, the more of them stay cached), 64 with up to six.
/// A sum that outgrows an `i64` moves, with the entry's other sums, to `wide` (exact sums
/// of up to 95 bits, [`ExactSum`]); past those, the row is refused and the full reader adds
/// it with `Decimal` arithmetic. Nothing is rounded.
struct Tallies {
    /// Additive columns.
    columns: usize,
    /// Words per entry: 4, 8 or 16.
    words: usize,
    /// Word of the first sum (1 with up to three columns, whose scales are in the head; else 2).
    first_sum: usize,
    blocks: Vec<TallyBlock>,
    /// Sums of the entries that outgrew 64 bits, by entry.
    wide: std::collections::HashMap<usize, [ExactSum; ADDITIVE.len()], foldhash::fast::FixedState>,
}

/// Four words of tallies, aligned so that an entry of up to three columns (four words) lies
/// on one cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct TallyBlock([u64; 4]);

/// Head word: the rows added (low 32 bits), then the present columns, the wide bit and the
/// scales (5 bits each) of up to three columns.
const TALLY_PRESENT: u32 = 32;
const TALLY_WIDE: u64 = 1 << 41;
const TALLY_SCALES: u32 = 42;

/// A head word's rows, present columns and wide bit with one more row, whose present
/// columns are `present` (the scales, above them, are left out: the caller sets them).
#[inline]
fn counted(head: u64, present: u16) -> u64 {
    ((head & ((1 << TALLY_SCALES) - 1)) + 1) | (u64::from(present) << TALLY_PRESENT)
}

impl Tallies {
    fn new(additive: usize) -> Tallies {
        let first_sum = if additive <= 3 { 1 } else { 2 };
        Tallies {
            columns: additive,
            words: (first_sum + additive).next_power_of_two().max(4),
            first_sum,
            blocks: Vec::new(),
            wide: Default::default(),
        }
    }

    fn word(&self, i: usize) -> u64 {
        self.blocks.get(i / 4).map_or(0, |b| b.0[i % 4])
    }

    fn set_word(&mut self, i: usize, v: u64) {
        if let Some(b) = self.blocks.get_mut(i / 4) {
            b.0[i % 4] = v;
        }
    }

    /// The scale of column `k` of the entry whose head word is at `base`.
    fn scale(&self, base: usize, head: u64, k: usize) -> u8 {
        let (word, shift) = if self.first_sum == 1 { (head, TALLY_SCALES as usize + 5 * k) } else { (self.word(base + 1), 5 * k) };
        ((word >> shift) & 31) as u8
    }

    /// Make room for entry `at`, by doubling (entries come in as the file is read).
    fn grow(&mut self, at: usize) {
        let end = ((at + 1) * self.words).div_ceil(4);
        if self.blocks.len() < end {
            self.blocks.resize(end.max(self.blocks.len() * 2), TallyBlock::default());
        }
    }

    /// Load the tallies of the entries `at` (making room for them): in a loop this short,
    /// the cache misses of a batch's tallies overlap instead of coming one by one.
    fn touch(&mut self, at: &[Option<usize>]) {
        let Some(&last) = at.iter().flatten().max() else { return };
        self.grow(last);
        let mut seen = 0;
        for at in at.iter().flatten() {
            seen ^= self.word(at * self.words);
        }
        std::hint::black_box(seen);
    }

    /// Add a plain row to the tally of entry `at`; `None` (and nothing added) when a sum
    /// would grow beyond what a Decimal holds: the full reader then adds the row to the line
    /// with Decimal arithmetic.
    fn add(&mut self, at: usize, values: PlainValues<'_>) -> Option<()> {
        self.grow(at);
        if self.words == 4 && self.add_in_block(at, values) {
            return Some(());
        }
        let base = at * self.words;
        let head = self.word(base);
        if head as u32 == u32::MAX {
            return None;
        }
        if head & TALLY_WIDE == 0 {
            let mut sums = [(0i64, 0u8); ADDITIVE.len()];
            let mut fits = true;
            for (k, n) in values.numbers.iter().enumerate().take(self.columns) {
                if values.present & (1 << k) != 0 {
                    let sum = (self.word(base + self.first_sum + k) as i64, self.scale(base, head, k));
                    match narrow_plus(sum, *n) {
                        Some(s) => sums[k] = s,
                        None => {
                            fits = false;
                            break;
                        }
                    }
                }
            }
            if fits {
                let mut scales = if self.first_sum == 1 { head >> TALLY_SCALES } else { self.word(base + 1) };
                for (k, (m, scale)) in sums.iter().enumerate().take(self.columns) {
                    if values.present & (1 << k) != 0 {
                        self.set_word(base + self.first_sum + k, *m as u64);
                        scales = scales & !(31 << (5 * k)) | u64::from(*scale) << (5 * k);
                    }
                }
                let counts = counted(head, values.present);
                if self.first_sum == 1 {
                    self.set_word(base, counts | scales << TALLY_SCALES);
                } else {
                    self.set_word(base + 1, scales);
                    self.set_word(base, counts);
                }
                return Some(());
            }
            // A sum outgrew 64 bits: the entry's sums move to the wide ones.
            let wide = self.narrow_sums(base, head)?;
            self.wide.insert(at, wide);
            self.set_word(base, head | TALLY_WIDE);
        }
        let sums = self.wide.get_mut(&at)?;
        let mut added = *sums;
        for (k, (n, new)) in values.numbers.iter().zip(added.iter_mut()).enumerate() {
            if values.present & (1 << k) != 0 {
                *new = new.plus(*n)?;
            }
        }
        *sums = added;
        let head = self.word(base);
        self.set_word(base, (head + 1) | (u64::from(values.present) << TALLY_PRESENT));
        Some(())
    }

    /// [`Tallies::add`] for entries of one block (up to three columns, their scales in the
    /// head word), the common case, with the block's words at fixed places: `false` (and
    /// nothing added) when the general path must take the row (sums moved to the wide ones,
    /// a sum outgrowing 64 bits, the row count full).
    fn add_in_block(&mut self, at: usize, values: PlainValues<'_>) -> bool {
        let Some(TallyBlock(words)) = self.blocks.get_mut(at) else { return false };
        let head = words[0];
        if head as u32 == u32::MAX || head & TALLY_WIDE != 0 {
            return false;
        }
        let mut scales = head >> TALLY_SCALES;
        let mut sums = [words[1], words[2], words[3]];
        for (k, (sum, n)) in sums.iter_mut().zip(values.numbers).enumerate().take(self.columns) {
            if values.present & (1 << k) != 0 {
                let shift = 5 * k;
                let Some((m, scale)) = narrow_plus((*sum as i64, ((scales >> shift) & 31) as u8), *n) else { return false };
                *sum = m as u64;
                scales = scales & !(31 << shift) | u64::from(scale) << shift;
            }
        }
        let counts = counted(head, values.present);
        *words = [counts | scales << TALLY_SCALES, sums[0], sums[1], sums[2]];
        true
    }

    /// The rows added to entry `at`, their bits of present columns and their sums (`n`
    /// additive columns).
    fn get(&self, at: usize, n: usize) -> Option<(u64, u16, impl Iterator<Item = ExactSum> + '_)> {
        let base = at * self.words;
        if base / 4 >= self.blocks.len() {
            return None;
        }
        let head = self.word(base);
        let sums = if head & TALLY_WIDE != 0 { *self.wide.get(&at)? } else { self.narrow_sums(base, head)? };
        Some((head & 0xffff_ffff, (head >> TALLY_PRESENT) as u16 & 0x1ff, sums.into_iter().take(n)))
    }

    /// The sums kept in the words of the entry whose head word (`head`) is at `base`.
    fn narrow_sums(&self, base: usize, head: u64) -> Option<[ExactSum; ADDITIVE.len()]> {
        let mut sums = [ExactSum::default(); ADDITIVE.len()];
        for (k, s) in sums.iter_mut().enumerate().take(self.columns) {
            let n = PlainNumber { mantissa: self.word(base + self.first_sum + k) as i64, scale: self.scale(base, head, k) };
            *s = ExactSum::default().plus(n)?;
        }
        Some(sums)
    }
}

/// A raw key: inline when short (most keys), on the heap when not.
enum KeyBytes {
    Inline(u8, [u8; INLINE_KEY]),
    Heap(Box<[u8]>),
}

impl KeyBytes {
    fn new(key: &[u8]) -> KeyBytes {
        match u8::try_from(key.len()) {
            Ok(n) if key.len() <= INLINE_KEY => {
                let mut bytes = [0u8; INLINE_KEY];
                bytes[..key.len()].copy_from_slice(key);
                KeyBytes::Inline(n, bytes)
            }
            _ => KeyBytes::Heap(key.into()),
        }
    }

    fn get(&self) -> &[u8] {
        match self {
            KeyBytes::Inline(n, bytes) => &bytes[..usize::from(*n)],
            KeyBytes::Heap(b) => b,
        }
    }
}

impl Table {
    /// The position of the key's entry and line.
    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let mut found = [None];
        self.find_many(&[(hash, key)], &mut found);
        found[0]
    }

    /// [`Table::find`] for each key (`found` as long as `keys`), [`PROBE_BATCH`] at a time:
    /// every slot of a batch is loaded first, then every candidate entry, so that the loads
    /// of different keys overlap. The index is never more than half full, so a probe always
    /// ends at an empty slot.
    fn find_many(&self, keys: &[(u64, &[u8])], found: &mut [Option<usize>]) {
        found.iter_mut().for_each(|f| *f = None);
        if self.index.is_empty() {
            return;
        }
        for (keys, found) in keys.chunks(PROBE_BATCH).zip(found.chunks_mut(PROBE_BATCH)) {
            self.find_batch(keys, found);
        }
    }

    fn find_batch(&self, keys: &[(u64, &[u8])], found: &mut [Option<usize>]) {
        let mask = self.index.len() - 1;
        let mut slots = [0u64; PROBE_BATCH];
        for ((hash, _), slot) in keys.iter().zip(slots.iter_mut()) {
            *slot = self.index.get(*hash as usize & mask).copied().unwrap_or(0);
        }
        // Load the entries the slots point to (where the key starts and where it ends) in a
        // loop short enough for their cache misses to overlap, before comparing any key.
        let mut seen = 0u64;
        for ((hash, _), slot) in keys.iter().zip(slots) {
            if slot != 0 && slot >> 32 == hash >> 32 {
                let e = self.entries.get((slot as u32 - 1) as usize);
                seen ^= e.map_or(0, |e| e.first_row ^ u64::from(e.key.get().last().copied().unwrap_or(0)));
            }
        }
        std::hint::black_box(seen);
        for (((hash, key), first), out) in keys.iter().zip(slots).zip(found.iter_mut()) {
            let (mut at, mut slot) = (*hash as usize & mask, first);
            *out = loop {
                if slot == 0 {
                    break None;
                }
                if slot >> 32 == hash >> 32 {
                    let position = (slot as u32 - 1) as usize;
                    if self.entries.get(position).is_some_and(|e| e.key.get() == *key) {
                        break Some(position);
                    }
                }
                at = (at + 1) & mask;
                slot = self.index.get(at).copied().unwrap_or(0);
            };
        }
    }

    /// Add a plain row to the worker's tally for the line of its key; its currency, or
    /// `None` when the row needs the full reader (no line yet, a careful key, a row before
    /// the line's first).
    fn add(&self, hash: u64, key: &[u8], number: u64, values: PlainValues<'_>, tallies: &mut Tallies) -> Option<Currency> {
        let at = self.find(hash, key)?;
        self.add_at(at, number, values, tallies)
    }

    /// (Also `None` when a sum would grow beyond what a Decimal holds: see [`Tallies::add`].)
    fn add_at(&self, at: usize, number: u64, values: PlainValues<'_>, tallies: &mut Tallies) -> Option<Currency> {
        let e = self.entries.get(at)?;
        if e.careful || number < e.first_row {
            return None;
        }
        tallies.add(at, values)?;
        Some(e.currency)
    }

    /// Enter a new key; its position.
    fn insert(&mut self, entry: Entry) -> usize {
        if (self.entries.len() + 1) * 2 > self.index.len() {
            let capacity = (self.index.len() * 2).max(1 << 12);
            self.index = vec![0; capacity];
            for (position, e) in self.entries.iter().enumerate() {
                Self::place(&mut self.index, e.hash, position);
            }
        }
        Self::place(&mut self.index, entry.hash, self.entries.len());
        self.entries.push(entry);
        self.entries.len() - 1
    }

    fn place(index: &mut [u64], hash: u64, position: usize) {
        let mask = index.len() - 1;
        let mut at = hash as usize & mask;
        while index[at] != 0 {
            at = (at + 1) & mask;
        }
        index[at] = (hash >> 32) << 32 | (position as u64 + 1);
    }

}

impl RolledStore {
    /// Put the line of the new key entered at `at` in its place.
    fn place(&mut self, at: usize, line: LedgerLine) {
        if self.placed.len() <= at {
            self.placed.resize_with(at + 1, || None);
        }
        if let Some(slot) = self.placed.get_mut(at) {
            *slot = Some(line);
        }
    }

    /// The lines with the extra lines of the full reader rolled in and the workers' tallies
    /// of plain rows added (`additive` as in [`Roll::additive`]), in the order of their rows
    /// (rows are unique within a file), and the rows they hold; `None` when an entry has no
    /// line (a line lost: never, unless a worker failed).
    fn into_lines(self, additive: &[(usize, usize)], tallies: &[Tallies]) -> Option<(Vec<LedgerLine>, u64)> {
        let RolledStore { mut placed, mut extra } = self;
        extra.sort_by_key(|(at, l)| (*at, l.source.row));
        for (at, line) in extra {
            let acc = placed.get_mut(at)?.as_mut()?;
            if line.source.row < acc.source.row {
                // The first row of the key describes the line (rows may arrive out of order).
                let (sums, rows) = (additive_values(acc), acc.rows);
                *acc = line;
                add_values(acc, &sums);
                acc.rows += rows;
            } else {
                add_values(acc, &additive_values(&line));
                acc.rows += line.rows;
            }
        }
        // The tallies are added on every core, a range of entries each, then the lines put in
        // the order of their rows.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let part = placed.len().div_ceil(cores).max(1 << 14);
        let parts: Vec<Option<Added>> = std::thread::scope(|scope| {
            let running: Vec<_> = placed
                .chunks_mut(part)
                .enumerate()
                .map(|(i, lines)| scope.spawn(move || add_tallies(lines, i * part, additive, tallies)))
                .collect();
            running.into_iter().map(|t| t.join().ok().flatten()).collect()
        });
        let mut rows = 0;
        let mut by_row: Vec<(u64, u32)> = Vec::with_capacity(placed.len());
        for p in parts {
            let (r, mut b) = p?;
            rows += r;
            by_row.append(&mut b);
        }
        crate::engine::same_keys::sort_by_first(&mut by_row);
        // (The position breaks no ties: rows are unique.) Each line is moved to its place
        // once, cycle by cycle of the order, not swapped there.
        let from: Vec<u32> = by_row.into_iter().map(|(_, at)| at).collect();
        let mut done = vec![false; from.len()];
        for start in 0..from.len() {
            if done[start] {
                continue;
            }
            let held = placed.get_mut(start)?.take();
            let mut at = start;
            loop {
                done[at] = true;
                let next = *from.get(at)? as usize;
                if next == start {
                    placed[at] = held;
                    break;
                }
                // (A position twice in the order, never for unique rows, is a lost line.)
                if *done.get(next)? {
                    return None;
                }
                // The line a few moves ahead in the cycle is prefetched: the moves go from
                // place to place at random, and each had waited for its line.
                let mut ahead = next;
                for _ in 0..3 {
                    ahead = from.get(ahead).map_or(start, |a| *a as usize);
                }
                if let Some(line) = placed.get(ahead) {
                    crate::prefetch::prefetch(line);
                }
                placed[at] = placed.get_mut(next)?.take();
                at = next;
            }
        }
        let count = placed.len();
        // (Collected in place: an `Option` of a line is as large as the line.)
        let lines: Vec<LedgerLine> = placed.into_iter().map_while(|l| l).collect();
        (lines.len() == count).then_some((lines, rows))
    }
}

/// The rows a range of lines holds, and each line's (row, entry).
type Added = (u64, Vec<(u64, u32)>);

/// Add the workers' tallies into `lines`, the lines of the entries from `first` on; the rows
/// they now hold and each line's (row, entry); `None` when an entry has no line.
fn add_tallies(lines: &mut [Option<LedgerLine>], first: usize, additive: &[(usize, usize)], tallies: &[Tallies]) -> Option<Added> {
    let mut rows = 0;
    let mut by_row = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter_mut().enumerate() {
        let (at, line) = (first + i, line.as_mut()?);
        for (count, present, sums) in tallies.iter().filter_map(|t| t.get(at, additive.len())) {
            let mut v: [Option<Decimal>; 9] = [None; 9];
            for ((k, (field, _)), sum) in additive.iter().enumerate().zip(sums) {
                if present & (1 << k) != 0 {
                    v[*field] = Some(sum.to_decimal());
                }
            }
            add_values(line, &v);
            line.rows += count;
        }
        rows += line.rows;
        by_row.push((line.source.row, u32::try_from(at).ok()?));
    }
    Some((rows, by_row))
}

/// What a worker keeps from chunk to chunk of a file.
struct Worker {
    tallies: Tallies,
    territories: Territories,
    /// The plain rows waiting to be added (empty between chunks; its buffers are kept, so
    /// that a chunk does not grow fresh ones).
    pending: Pending,
}

/// Territory text → its group (`None`: not one that groups plainly), per worker: two-byte
/// texts (ISO codes, nearly every row) by a table indexed by their bytes, others hashed.
#[derive(Default)]
struct Territories {
    /// By the two bytes: 0 when not seen yet, else the position in `groups` + 1.
    two: Vec<u16>,
    groups: Vec<Option<String>>,
    other: HashMap<String, Option<String>, foldhash::fast::FixedState>,
}

impl Territories {
    /// (`text`: the bytes of UTF-8 text; `None` for other bytes.)
    fn group_of(&mut self, text: &[u8], compute: impl FnOnce(&str) -> Option<String>) -> Option<&str> {
        if let &[a, b] = text {
            if self.two.is_empty() {
                self.two = vec![0; 1 << 16];
            }
            let at = usize::from(a) << 8 | usize::from(b);
            let known = self.two.get(at).copied().unwrap_or(0);
            if known != 0 {
                return self.groups.get(usize::from(known) - 1).and_then(|g| g.as_deref());
            }
            // (Past 65,535 texts, which two bytes barely allow, the rest are hashed.)
            if let (Ok(next), Some(slot)) = (u16::try_from(self.groups.len() + 1), self.two.get_mut(at)) {
                *slot = next;
                self.groups.push(std::str::from_utf8(text).ok().and_then(compute));
                return self.groups.last().and_then(|g| g.as_deref());
            }
        }
        let text = std::str::from_utf8(text).ok()?;
        self.other.entry(text.to_string()).or_insert_with_key(|t| compute(t)).as_deref()
    }
}

/// `piece`, a piece of `text`'s bytes cut at ASCII bytes, as the `str` it is.
fn text_of<'t>(text: &'t str, piece: &[u8]) -> &'t str {
    let at = (piece.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    text.get(at..at + piece.len()).unwrap_or_default()
}

fn add_opt(a: &mut Option<Decimal>, b: Option<Decimal>) {
    if let Some(b) = b {
        *a = Some(a.unwrap_or(Decimal::ZERO) + b);
    }
}

fn additive_values(l: &LedgerLine) -> [Option<Decimal>; 9] {
    [l.units, l.details().free_units, l.gross, l.fees, l.taxes, l.net, l.royalty, l.amount, l.details().original_amount]
}

fn add_values(l: &mut LedgerLine, v: &[Option<Decimal>; 9]) {
    add_opt(&mut l.units, v[0]);
    if v[1].is_some() {
        add_opt(&mut l.details_mut().free_units, v[1]);
    }
    add_opt(&mut l.gross, v[2]);
    add_opt(&mut l.fees, v[3]);
    add_opt(&mut l.taxes, v[4]);
    add_opt(&mut l.net, v[5]);
    add_opt(&mut l.royalty, v[6]);
    add_opt(&mut l.amount, v[7]);
    if v[8].is_some() {
        add_opt(&mut l.details_mut().original_amount, v[8]);
    }
}

impl Roll<'_> {
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The raw key of a record, appended to `out`. `None` when the territory is not one
    /// that groups plainly.
    /// (`text`: the chunk's text the record's cells were cut from, when they were: see
    /// [`key_cells_in_text`].)
    fn key(&self, record: &[&[u8]], text: &[u8], out: &mut Vec<u8>, territories: &mut Territories) -> Option<()> {
        if !key_cells_in_text(&self.key_columns, record, text, out) {
            for &c in &self.key_columns {
                out.extend_from_slice(record.get(c).copied().unwrap_or_default());
                out.push(KEY_CELL_END);
            }
        }
        if let Some((c, groups)) = self.territory {
            // Keyed by the cell as written: its group is worked out from the trimmed text.
            let cell = record.get(c).copied().unwrap_or_default();
            let group = territories.group_of(cell, |cell| {
                let text = cell.trim();
                if text.is_empty() {
                    (!self.territory_constant).then(|| groups.group(None).to_string())
                } else {
                    Territory::parse(text).map(|t| groups.group(Some(&t)).to_string())
                }
            });
            out.extend_from_slice(group?.as_bytes());
        }
        Some(())
    }

    /// The key of a line read by the full reader (the same recipe, from the record's cells),
    /// appended to `out`.
    fn key_of_row(&self, row: &Row, line: &LedgerLine, out: &mut Vec<u8>) {
        for &c in &self.key_columns {
            if let Cell::Text(t) = row.cell(c) {
                out.extend_from_slice(t.as_bytes());
            }
            out.push(KEY_CELL_END);
        }
        if let Some((_, groups)) = self.territory {
            match line.flags.iter().find_map(|f| if let LineFlag::UnknownTerritory(t) = f { Some(t) } else { None }) {
                // Unknown territories keep their text, so each stays visible on its own line.
                Some(t) => {
                    out.push(b'?');
                    out.extend_from_slice(t.as_bytes());
                }
                None => out.extend_from_slice(groups.group(line.territory.as_ref()).as_bytes()),
            }
        }
    }
}

/// Ends each key cell in a rolled-up key: never a byte of UTF-8 text, so that two rows
/// whose key cells differ never give the same key bytes, whatever their cells hold.
const KEY_CELL_END: u8 = 0xff;

/// Append the key cells `columns` of `record`, each followed by [`KEY_CELL_END`], to `key`
/// when each is shorter than 16 bytes and lies in `text` with 16 bytes of it from the cell's
/// start on, and the cells fit in 128 bytes: `false` (nothing appended) otherwise. The key
/// grows by 128 bytes first (a store of known length); each cell is copied there as those
/// 16 bytes (a load and a store of known length, inlined) and cut back to the cell, and the
/// key is cut back to its cells at the end. (Cell by cell with `extend_from_slice`, a row's
/// ~8 key cells were ~8 calls to `memcpy` and as many updates of the vector, ~280
/// instructions of each plain row.) A cell lies in `text` exactly when its address does: the
/// bytes at that address are the cell's.
#[inline(always)]
fn key_cells_in_text(columns: &[usize], record: &[&[u8]], text: &[u8], key: &mut Vec<u8>) -> bool {
    const WIDE: usize = 16;
    const ROOM: usize = 128;
    let at = key.len();
    key.extend_from_slice(&[0u8; ROOM]);
    let written = (|| {
        let room = key.get_mut(at..)?;
        let mut len = 0;
        for &c in columns {
            let cell = record.get(c).copied().unwrap_or_default();
            let offset = (cell.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
            let n = cell.len();
            let wide = text.get(offset..).and_then(|w| w.first_chunk::<WIDE>())?;
            let to = room.get_mut(len..len + WIDE)?;
            if n >= WIDE {
                return None;
            }
            to.copy_from_slice(wide);
            to[n] = KEY_CELL_END;
            len += n + 1;
        }
        Some(len)
    })();
    key.truncate(at + written.unwrap_or(0));
    written.is_some()
}

impl super::TerritoryGroups {
    pub fn group(&self, t: Option<&Territory>) -> &str {
        t.and_then(|t| self.of.get(t.code())).map(String::as_str).unwrap_or(&self.default)
    }
}

impl Plan<'_> {
    /// Read one chunk of text whose first line is `first_line`.
    /// (`lines`: an empty buffer for the chunk's lines, kept from an earlier chunk.)
    /// (`worker`: what the worker keeps from chunk to chunk.)
    fn chunk(&self, text: &str, first_line: u64, lines: Vec<LedgerLine>, worker: &mut Worker) -> Result<ChunkOut, String> {
        let Worker { tallies, territories, pending } = worker;
        // (Empty unless the worker's last chunk failed part-way.)
        pending.clear();
        let mut out = ChunkOut { lines, ..Default::default() };
        let mut key = Vec::new();
        let mut numbers = Vec::new();
        // Rows for the full reader are filled in here, one at a time, reusing its buffers.
        let mut scratch = Row { number: 0, cells: Vec::new(), unterminated: None };
        visit_chunk(text, self.delimiter, first_line, |row| {
            out.rows_read += 1;
            let number = match &row {
                ChunkRow::Fields { number, .. } | ChunkRow::Text(TextRow::Blank(number)) | ChunkRow::Text(TextRow::Record { number, .. }) => *number,
            };
            if number <= self.header_line {
                let reason = if number < self.header_line { "preamble" } else { "header" };
                out.nondata.push(NonData { source: self.reader.source(number), reason: reason.into() });
                return;
            }
            if let (Some(roll), ChunkRow::Fields { fields, bytes, .. }) = (&self.roll, &row) {
                let (start, numbers) = (pending.keys.len(), pending.numbers.len());
                if let Some((hash, present)) = self.plain(roll, (fields, text.as_bytes(), *bytes), &mut pending.keys, &mut pending.numbers, territories) {
                    let line = fields.first().map_or(0, |f| f.as_ptr() as usize - text.as_ptr() as usize);
                    pending.rows.push(PendingRow { number, hash, key: start..pending.keys.len(), line: line..line + bytes, present });
                    if pending.rows.len() >= PENDING_ROWS {
                        self.flush(roll, pending, text, &mut scratch, &mut out, tallies);
                    }
                    return;
                }
                pending.keys.truncate(start);
                pending.numbers.truncate(numbers);
            }
            // Rows are added in order: the plain rows before this one first.
            if let Some(roll) = &self.roll {
                self.flush(roll, pending, text, &mut scratch, &mut out, tallies);
            }
            match row {
                ChunkRow::Text(TextRow::Blank(_)) => {
                    out.nondata.push(NonData { source: self.reader.source(number), reason: "blank row".into() });
                    return;
                }
                // (The fields are pieces of the chunk's text cut at ASCII bytes: `str`s.)
                ChunkRow::Fields { fields, .. } => scratch.refill(number, fields.iter().map(|f| text_of(text, f)), None),
                ChunkRow::Text(TextRow::Record { record, unterminated, .. }) => {
                    if let Some(roll) = &self.roll
                        && unterminated.is_none()
                    {
                        let fields: Vec<&[u8]> = record.iter().map(str::as_bytes).collect();
                        let bytes = record.as_byte_record().as_slice().len();
                        key.clear();
                        numbers.clear();
                        if let Some((hash, present)) = self.plain(roll, (&fields, &[], bytes), &mut key, &mut numbers, territories) {
                            let values = PlainValues { numbers: &numbers, present };
                            let found = self.table(roll, &mut out.rolled).add(hash, &key, number, values, tallies);
                            if let Some(currency) = found {
                                out.plain_figures.add(roll, currency, values);
                                return;
                            }
                        }
                    }
                    scratch.refill(number, record.iter(), unterminated);
                }
            }
            self.slow(&scratch, &mut out);
        })?;
        if let Some(roll) = &self.roll {
            self.flush(roll, pending, text, &mut scratch, &mut out, tallies);
            self.roll_up_pending(roll, &mut out.rolled, true);
        }
        out.fold_plain_figures(self.roll.as_ref());
        Ok(out)
    }

    /// A plain row's money values (appended to `numbers`, one for each additive column), raw
    /// key (appended to `key`), the key's hash and the bits of its non-empty values; `None`
    /// when the row needs the full reader whatever its key. (`text`: the chunk's text, which
    /// the cells were cut from when the line was split by [`visit_chunk`]; else empty.
    /// `bytes`: the line's length.)
    fn plain(
        &self,
        roll: &Roll<'_>,
        (record, text, bytes): (&[&[u8]], &[u8], usize),
        key: &mut Vec<u8>,
        numbers: &mut Vec<PlainNumber>,
        territories: &mut Territories,
    ) -> Option<(u64, u16)> {
        if record.len() > self.reader.header_width || bytes > MAX_CELL_BYTES {
            return None;
        }
        // Cells that would classify the row (first three non-empty ones) and a lone cell.
        let mut non_empty = 0;
        for (i, f) in record.iter().enumerate() {
            let t = super::grid::trim_bytes(f);
            if t.is_empty() {
                continue;
            }
            non_empty += 1;
            if non_empty <= 3 && !roll.key_columns.contains(&i) && std::str::from_utf8(t).map_or(true, |t| self.reader.is_row_label(t)) {
                return None;
            }
            if non_empty >= 3 {
                break;
            }
        }
        if non_empty < 2 {
            return None;
        }
        let mut present = 0u16;
        for (k, (_, col)) in roll.additive.iter().enumerate() {
            let text = record.get(*col).copied().unwrap_or_default();
            if text.is_empty() {
                if roll.additive_strict[k] {
                    return None;
                }
                numbers.push(PlainNumber::default());
            } else {
                numbers.push(plain_number(text, roll.decimal)?);
                present |= 1 << k;
            }
        }
        if roll.required_descriptive.iter().any(|c| record.get(*c).is_none_or(|t| super::grid::trim_bytes(t).is_empty())) {
            return None;
        }
        let start = key.len();
        roll.key(record, text, key, territories)?;
        Some((roll.hash(&key[start..]), present))
    }

    /// Add the pending plain rows to their lines: probed in batches under one read lock, then
    /// in row order their figures counted, and the rows whose key has no line yet (or whose
    /// key is careful, or that come before the line's first row) read by the full reader.
    fn flush(&self, roll: &Roll<'_>, pending: &mut Pending, text: &str, scratch: &mut Row, out: &mut ChunkOut, tallies: &mut Tallies) {
        if pending.rows.is_empty() {
            return;
        }
        let mut added: Vec<Option<Currency>> = vec![None; pending.rows.len()];
        let n = roll.additive.len();
        let values = |i: usize, row: &PendingRow| PlainValues { numbers: pending.numbers.get(i * n..(i + 1) * n).unwrap_or_default(), present: row.present };
        {
            let table = self.table(roll, &mut out.rolled);
            let mut found = [None; PROBE_BATCH];
            let mut keys: [(u64, &[u8]); PROBE_BATCH] = [(0, &[]); PROBE_BATCH];
            for (b, (batch, added)) in pending.rows.chunks(PROBE_BATCH).zip(added.chunks_mut(PROBE_BATCH)).enumerate() {
                for (k, r) in keys.iter_mut().zip(batch) {
                    *k = (r.hash, pending.keys.get(r.key.clone()).unwrap_or_default());
                }
                table.find_many(&keys[..batch.len()], &mut found[..batch.len()]);
                tallies.touch(&found[..batch.len()]);
                for (j, ((row, at), added)) in batch.iter().zip(found).zip(added.iter_mut()).enumerate() {
                    *added = at.and_then(|at| table.add_at(at, row.number, values(b * PROBE_BATCH + j, row), tallies));
                }
            }
        }
        for (i, (row, added)) in pending.rows.iter().zip(added).enumerate() {
            match added {
                Some(currency) => out.plain_figures.add(roll, currency, values(i, row)),
                None => {
                    // A plain line: its fields are its text split on the delimiter.
                    let line = text.get(row.line.clone()).unwrap_or("");
                    // (Split as bytes and taken back as `str` pieces: `str::split` on a char
                    // compares each candidate's encoding by a call to memcmp, ~275M more
                    // instructions on the 3M-row audit.)
                    let delimiter = self.delimiter;
                    scratch.refill(row.number, line.as_bytes().split(move |b| *b == delimiter).map(|f| text_of(line, f)), None);
                    self.slow(scratch, out);
                }
            }
        }
        pending.clear();
    }

    /// Read a row with the full reader; roll its line up when it is a sales income line.
    fn slow(&self, row: &Row, out: &mut ChunkOut) {
        let source = self.reader.source(row.number);
        let mut line = None;
        match self.reader.read(row, &mut line) {
            RowOutcome::NonData(reason) => out.nondata.push(NonData { source, reason }),
            RowOutcome::Total(is_total) => {
                out.fold_plain_figures(self.roll.as_ref());
                out.totals.push(TotalRow { row: row.clone(), is_total, before: out.figures.clone() });
                let reason = if is_total { "total row" } else { "subtotal row" };
                out.nondata.push(NonData { source, reason: reason.into() });
            }
            RowOutcome::Data(result, figures) => {
                out.figures.add_row(&figures);
                match (result, line) {
                    (Err(reject), _) => out.rejects.push(*reject),
                    // (`read` makes a row without a line a reject.)
                    (Ok(()), None) => {}
                    (Ok(()), Some(line)) => {
                        if line.flags.contains(&LineFlag::NoLineTerminator) {
                            out.notes.push(format!(
                                "row {}: last line has no line terminator; if the file was cut short its last value may be incomplete",
                                row.number
                            ));
                        }
                        match &self.roll {
                            Some(roll) if line.line_kind == LineKind::Income && !line.flags.contains(&LineFlag::NoLineTerminator) => {
                                self.roll_up(roll, row, line, &mut out.rolled)
                            }
                            _ => out.lines.push(line),
                        }
                    }
                }
            }
        }
    }

    /// Key a line of the full reader for the rolled-up table; it is rolled up there the next
    /// time the table is locked.
    fn roll_up(&self, roll: &Roll<'_>, row: &Row, mut line: LedgerLine, out: &mut RolledLines) {
        let start = out.keys.len();
        roll.key_of_row(row, &line, &mut out.keys);
        if let Some((_, groups)) = roll.territory
            && !line.flags.iter().any(|f| matches!(f, LineFlag::UnknownTerritory(_)))
        {
            line.territory_group = Some(groups.group(line.territory.as_ref()).into());
            line.territory = None;
        }
        // Rows of this key always take the full reader when a key cell looks like a total or
        // skip label, or when every key cell equals its header (a repeated header could
        // match). The key cells are part of the key: only a new key's entry keeps this.
        let text = |c: usize| match row.cell(c) {
            Cell::Text(t) => std::borrow::Cow::Borrowed(t.as_str()),
            other => std::borrow::Cow::Owned(other.display()),
        };
        // Which key cells can classify a row: a row is classified by its first three non-empty
        // cells, and the key cells are the same in every row of the key, so only the first
        // three non-empty key cells (in column order) can ever be among them. This row was
        // read as data: its own first three non-empty text cells are no labels already.
        let classified: smallvec::SmallVec<[usize; 3]> = row
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Cell::Text(t) if !super::grid::trim(t).is_empty()))
            .map(|(i, _)| i)
            .take(3)
            .collect();
        let careful = roll
            .key_columns_in_order
            .iter()
            .filter(|c| !super::grid::trim(&text(**c)).is_empty())
            .take(3)
            .any(|c| !classified.contains(c) && self.reader.is_row_label(super::grid::trim(&text(*c))))
            || roll.key_columns.iter().all(|c| {
            let t = text(*c);
            // Header texts are kept lower-cased.
            self.reader.header_text(*c).is_some_and(|h| if t.is_ascii() { h.eq_ignore_ascii_case(&t) } else { h == t.to_lowercase() })
        });
        let hash = roll.hash(out.keys.get(start..).unwrap_or_default());
        out.lines.push(RolledLine { hash, key: start..out.keys.len(), careful, line });
    }

    /// The rolled-up table, read-locked, with the chunk's lines of the full reader rolled up
    /// first (in row order) when the table is free or many are waiting: a probe sees the
    /// lines of the rows before it, or takes its row to the full reader, whose line then
    /// rolls up into the same line (see [`RolledStore`]).
    fn table<'t>(&self, roll: &'t Roll<'_>, rolled: &mut RolledLines) -> std::sync::RwLockReadGuard<'t, Table> {
        self.roll_up_pending(roll, rolled, rolled.lines.len() >= ROLLED_WAIT);
        // A worker that panicked fails its chunk (and the import); the table is still whole.
        roll.table.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Roll up the chunk's lines of the full reader waiting in `rolled`, under the write lock:
    /// waiting for it when `wait`, else only when no other worker holds the table.
    fn roll_up_pending(&self, roll: &Roll<'_>, rolled: &mut RolledLines, wait: bool) {
        if rolled.lines.is_empty() {
            return;
        }
        let locked = if wait { roll.table.write().map_err(std::sync::TryLockError::from) } else { roll.table.try_write() };
        let table = match locked {
            Ok(t) => t,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        Self::enter_and_place(roll, rolled, table);
    }

    /// Enter the keys of the waiting lines in the write-locked table, let go of it, then put
    /// the lines in their places.
    fn enter_and_place(roll: &Roll<'_>, rolled: &mut RolledLines, mut table: std::sync::RwLockWriteGuard<'_, Table>) {
        rolled.placements.clear();
        for r in &rolled.lines {
            let key = rolled.keys.get(r.key.clone()).unwrap_or_default();
            rolled.placements.push(table.enter(r, key));
        }
        drop(table);
        rolled.keys.clear();
        let mut store = roll.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (r, placement) in rolled.lines.drain(..).zip(rolled.placements.drain(..)) {
            match placement {
                Placement::New(at) => store.place(at, r.line),
                Placement::Existing(at) => store.extra.push((at, r.line)),
            }
        }
    }
}

impl Table {
    /// Enter the key of a line of the full reader: a new entry, or its key's entry, whose
    /// first row it may now be (the line itself is placed by the caller).
    fn enter(&mut self, r: &RolledLine, key: &[u8]) -> Placement {
        let row = r.line.source.row;
        match self.find(r.hash, key) {
            None => Placement::New(self.insert(Entry { hash: r.hash, key: KeyBytes::new(key), careful: r.careful, first_row: row, currency: r.line.currency })),
            Some(at) => {
                if let Some(e) = self.entries.get_mut(at) {
                    e.first_row = e.first_row.min(row);
                }
                Placement::Existing(at)
            }
        }
    }
}

/// The first records of `head`, read as a grid: for profile detection and the header row.
/// Only its first records are read (as many as any profile searches for its header, and
/// one more): detection and the header look no further, and the workers read the rest.
/// (The whole first chunk as cells cost 20–33 ms before any worker started.)
fn head_grid(head: &str, encoding: &'static Encoding, opts: &ImportOptions) -> Result<Grid, String> {
    let delimiter = sniff_delimiter(head);
    let rows = opts.profiles.iter().map(|p| p.header_search_rows).max().unwrap_or(0) + 1;
    let end = line_ends(head.as_bytes()).take(rows).last().unwrap_or(head.len());
    let sheet = super::delimited::read_text(&head[..end], Some(delimiter))?;
    Ok(Grid { sheets: vec![sheet], hidden_sheets: Vec::new(), encoding: Some(encoding.name()), delimiter: Some(delimiter), notes: Vec::new() })
}

/// The profile that reads a file whose first rows are `grid`: the one named in the options,
/// else the detected one. Declined for DSR flat files, which are read whole.
fn profile_for<'a>(name: &str, grid: &Grid, opts: &'a ImportOptions) -> Result<&'a Profile, Declined> {
    let inner_name = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".GZ")).unwrap_or(name);
    let base_name = std::path::Path::new(inner_name).file_name().and_then(|n| n.to_str()).unwrap_or(name);
    let profile: &Profile = match &opts.profile {
        Some(p) => opts.profiles.iter().find(|q| q.name == *p).ok_or_else(|| format!("unknown profile '{p}' (see `royalty-audit profiles`)"))?,
        None => {
            if opts.profiles.iter().any(|p| p.reader == ReaderKind::Dsrf && p.file_name.as_ref().is_some_and(|re| re.is_match(base_name))) {
                return Err(Declined::NotStreamable);
            }
            detect_profile(inner_name, grid, &opts.profiles)?
        }
    };
    if profile.reader == ReaderKind::Dsrf {
        return Err(Declined::NotStreamable);
    }
    Ok(profile)
}

/// Import a delimited file by streaming it from `input`; `name` is used for messages and
/// source references (and, without a `.gz` suffix, to match profiles by file name).
pub fn import_streaming(name: &str, mut input: impl Read + Send, mapped: Option<super::MappedFile<'_>>, opts: &ImportOptions) -> Result<FileImport, Declined> {
    let first = read_head(&mut input).map_err(|e| e.to_string())?;
    let (encoding, bom) = super::decode::sniff(&first, (first.len() as u64) < READ_BYTES);
    let mut source = TextSource::new(std::io::Cursor::new(first).chain(input), encoding);
    source.skip(bom as u64)?;
    let mut pending: Vec<u8> = Vec::new();
    while pending.len() < opts.chunk_bytes.max(1) && source.more(&mut pending)? {}
    let head = chunk_text(&pending).0;
    if head.contains('\r') && !head.contains('\n') {
        return Err(Declined::NotStreamable);
    }
    if super::dsrf::looks_like_dsrf(&head) {
        return Err(Declined::NotStreamable);
    }
    // Header and profile from the first chunk.
    let grid = head_grid(&head, encoding, opts)?;
    drop(head);
    let delimiter = grid.delimiter.unwrap_or(b',');
    let profile = profile_for(name, &grid, opts)?;
    let sheet = &grid.sheets[0];
    let Some((at, map)) = find_header(sheet, profile) else {
        return Err(Declined::Error(format!("no {} header row in the first {} rows", profile.name, profile.header_search_rows)));
    };
    let header_row = sheet.rows[at].clone();
    let roll = opts
        .roll_up
        .as_ref()
        .filter(|r| r.kinds.contains(&profile.statement_kind))
        .map(|r| plan_roll(profile, &map, r));
    let plan = Plan {
        reader: SheetReader::new(name, None, false, profile, &header_row, &map),
        header_line: header_row.number,
        delimiter,
        roll,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(usize, u64, ChunkBytes)>(threads * 2);
    let mapped = mapped.filter(|_| encoding == encoding_rs::UTF_8);
    let chunk_rx = Mutex::new(chunk_rx);
    // Chunk buffers go back to the reader once read: fresh 4 MiB buffers would each be
    // zeroed page by page by the kernel.
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    // Likewise the chunks' line buffers, once their lines are gathered: a chunk of a label
    // statement holds some 18 MB of lines, and a fresh buffer grows by copies and page faults.
    let spare_lines: Mutex<Vec<Vec<LedgerLine>>> = Mutex::new(Vec::new());
    // Bounded, so that workers wait when results are consumed slower than produced (a
    // ledger being written out): memory stays within the chunks in flight.
    let (out_tx, out_rx) = mpsc::sync_channel::<(usize, Result<ChunkOut, String>)>(threads * 2);
    // Lines go to the sink (`import` of large files), or without one into the file's lines,
    // chunk by chunk in row order, as soon as every chunk before has arrived; rolled-up
    // lines (audits) are never sent to the sink.
    let sink = opts.sink.clone().filter(|_| plan.roll.is_none());
    let mut collected: (Vec<IndexedChunk>, Option<super::outcome::Spilled>, Vec<LedgerLine>) = (Vec::new(), None, Vec::new());
    // Set when the sink fails: the reader stops, and the chunks in flight are drained.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let produced: Result<(), String> = std::thread::scope(|scope| {
        let collected = &mut collected;
        let failed = &failed;
        let spare_lines = &spare_lines;
        let collector = scope.spawn(move || -> Result<(), String> {
            let mut waiting: std::collections::BTreeMap<usize, Result<ChunkOut, String>> = std::collections::BTreeMap::new();
            let mut next = 0usize;
            let mut out_rx = out_rx.into_iter();
            for (index, chunk) in out_rx.by_ref() {
                waiting.insert(index, chunk);
                while let Some(mut chunk) = waiting.remove(&next) {
                    if let Ok(c) = &mut chunk {
                        match &sink {
                            Some(sink) => {
                                if let Err(e) = sink.spill(&mut c.lines, &mut collected.1) {
                                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                    out_rx.for_each(drop);
                                    return Err(e);
                                }
                            }
                            // The file's lines gathered in row order while later chunks are
                            // read, rather than all moved once the last chunk is in.
                            None => {
                                collected.2.append(&mut c.lines);
                                if let Ok(mut spare) = spare_lines.lock() {
                                    spare.push(std::mem::take(&mut c.lines));
                                }
                            }
                        }
                    }
                    collected.0.push((next, chunk));
                    next += 1;
                }
            }
            collected.0.extend(waiting);
            Ok(())
        });
        for _ in 0..threads {
            let out_tx = out_tx.clone();
            let (chunk_rx, plan, spare_tx) = (&chunk_rx, &plan, spare_tx.clone());
            scope.spawn(move || {
                let mut worker = Worker { tallies: Tallies::new(plan.roll.as_ref().map_or(0, |r| r.additive.len())), territories: Territories::default(), pending: Pending::default() };
                loop {
                    let next = match chunk_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((index, first_line, chunk_bytes)) = next else { break };
                    let bytes: &[u8] = match &chunk_bytes {
                        ChunkBytes::Owned(b) => b,
                        ChunkBytes::Mapped(map, r) => map.get(r.clone()).unwrap_or_default(),
                    };
                    // A bug in a worker must not leave the reader waiting for it: the
                    // chunk fails with an error, and so does the import.
                    let chunk = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let (text, inner_boms) = chunk_text(bytes);
                        let lines = spare_lines.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
                        let mut out = plan.chunk(&text, first_line, lines, &mut worker)?;
                        out.inner_boms = inner_boms;
                        Ok(out)
                    }))
                    .unwrap_or_else(|_| Err(format!("line {first_line}: internal error while reading this part of the file")));
                    if let ChunkBytes::Owned(bytes) = chunk_bytes {
                        let _ = spare_tx.send(bytes);
                    }
                    if out_tx.send((index, chunk)).is_err() {
                        break;
                    }
                }
                if let Some(roll) = &plan.roll {
                    roll.tallies.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(worker.tallies);
                }
            });
        }
        drop(out_tx);
        // Cut the text into chunks at line ends outside quotes.
        let mut index = 0usize;
        let mut first_line = 1u64;
        // A mapped file (UTF-8) is cut where it lies: each chunk is read in a window of the
        // file mapped for it (widened when a quoted field runs past it), and no byte is
        // copied before a worker reads it.
        if let Some(file) = &mapped {
            let mut at = bom as u64;
            let size = chunk_size(opts.chunk_bytes, file.len, threads);
            while at < file.len && !failed.load(std::sync::atomic::Ordering::Relaxed) {
                let mut cut = None;
                for width in [size, MAX_PENDING_BYTES.max(size)] {
                    let (map, from) = file.window(at, width as u64).map_err(|e| format!("line {first_line}: {e}"))?;
                    let rest = map.get(from..).unwrap_or_default();
                    if let Some(end) = chunk_end(rest, width == size, at + rest.len() as u64 == file.len) {
                        cut = Some((map, from, end));
                        break;
                    }
                }
                let Some((map, from, end)) = cut else {
                    return Err(unbalanced_quote(first_line));
                };
                // (Counted by `bytecount`, on the thread that also feeds the workers: several
                // times fewer instructions than counting matches with memchr.)
                let lines = bytecount::count(map.get(from..from + end).unwrap_or_default(), b'\n') as u64;
                if chunk_tx.send((index, first_line, ChunkBytes::Mapped(map, from..from + end))).is_err() {
                    break;
                }
                index += 1;
                first_line += lines;
                at += end as u64;
            }
        }
        while mapped.is_none() {
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            // A chunk is read up to its size, then cut after its last line end (outside
            // quotes): the next chunk starts with the few bytes after it.
            source.fill(&mut pending, opts.chunk_bytes.max(1))?;
            if pending.is_empty() {
                break;
            }
            let cut = if source.done { Some(pending.len()) } else { last_line_end(&pending) };
            let text = match cut {
                Some(cut) => split_off_front(&mut pending, cut, spare_rx.try_recv().unwrap_or_default()),
                None if pending.len() > MAX_PENDING_BYTES => {
                    return Err(unbalanced_quote(first_line));
                }
                None => {
                    source.more(&mut pending)?;
                    continue;
                }
            };
            let lines = bytecount::count(&text, b'\n') as u64;
            if chunk_tx.send((index, first_line, ChunkBytes::Owned(text))).is_err() {
                break;
            }
            index += 1;
            first_line += lines;
        }
        drop(chunk_tx);
        collector.join().unwrap_or_else(|_| Err("the ledger writer stopped".into())).map_err(|e| format!("{}: {e}", super::LEDGER_OUTPUT))
    });
    produced?;
    let _t = crate::timings::stage("stream: merge");
    let (mut chunks, spilled, lines) = collected;
    chunks.sort_by_key(|(i, _)| *i);
    let format = match delimiter {
        b'\t' => "tsv",
        b';' => "csv;",
        b'|' => "psv",
        _ => "csv",
    };
    let mut out = FileImport {
        file: name.to_string(),
        profile: profile.name.clone(),
        format: format.to_string(),
        encoding: Some(encoding.name().to_string()),
        delimiter: Some((delimiter as char).to_string()),
        columns: map.mappings(),
        spilled,
        ..Default::default()
    };
    let inner_boms = source.inner_boms + chunks.iter().filter_map(|(_, c)| c.as_ref().ok()).map(|c| c.inner_boms).sum::<usize>();
    if inner_boms > 0 {
        out.notes.push(format!("{inner_boms} byte-order mark(s) inside the file removed (concatenated exports)"));
    }
    out.lines = lines;
    let mut before = FigureSums::default();
    let mut last_subtotal = FigureSums::default();
    for (_, chunk) in chunks {
        let chunk = chunk?;
        out.rows_read += chunk.rows_read;
        out.lines.extend(chunk.lines);
        out.rejects.extend(chunk.rejects);
        out.nondata.extend(chunk.nondata);
        out.notes.extend(chunk.notes);
        for t in &chunk.totals {
            let upto = before.combined(&t.before, Decimal::ONE);
            let covered = if t.is_total { upto.as_rows() } else { upto.combined(&last_subtotal, Decimal::NEGATIVE_ONE).as_rows() };
            check_totals(&plan.reader, &t.row, &covered, &mut out.controls);
            if !t.is_total {
                last_subtotal = upto;
            }
        }
        before = before.combined(&chunk.figures, Decimal::ONE);
    }
    if let Some(roll) = plan.roll {
        let table = roll.table.into_inner().unwrap_or_else(|p| p.into_inner());
        let store = roll.lines.into_inner().unwrap_or_else(|p| p.into_inner());
        let tallies = roll.tallies.into_inner().unwrap_or_else(|p| p.into_inner());
        let count = table.entries.len();
        let Some((rolled, rows)) = store.into_lines(&roll.additive, &tallies).filter(|(lines, _)| lines.len() == count) else {
            return Err(Declined::Error("internal error: a rolled-up line was lost".into()));
        };
        if rows > count as u64 {
            out.notes.push(format!("{rows} sales rows rolled up into {count} ledger lines (one per key; `rows` counts them)"));
        }
        // Lines are large: the rolled-up lines are kept where they are when they are all
        // the file's lines, else moved once.
        // (The rolled-up lines come in row order: alone, they need no sort.)
        if out.lines.is_empty() {
            out.lines = rolled;
        } else {
            out.lines.reserve_exact(count);
            out.lines.extend(rolled);
            sort_by_row(&mut out.lines);
        }
    }
    out.rejects.sort_by_key(|r| r.source.row);
    out.nondata.sort_by_key(|n| n.source.row);
    if !out.rows_balance() {
        out.notes.push("internal error: row accounting does not balance".into());
    }
    Ok(out)
}

/// Sort lines by source row (unique within a file) without moving each large line more
/// than a few times: the order is worked out on (row, index) pairs, then applied in place
/// cycle by cycle.
fn sort_by_row(lines: &mut [LedgerLine]) {
    if lines.is_sorted_by_key(|l| l.source.row) {
        return;
    }
    let mut keyed: Vec<(u64, usize)> = lines.iter().enumerate().map(|(i, l)| (l.source.row, i)).collect();
    crate::engine::same_keys::sort_by_first(&mut keyed);
    // order[k]: the index of the line that belongs at position k.
    let mut order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    for start in 0..order.len() {
        let mut cur = start;
        while order[cur] != start {
            let next = order[cur];
            lines.swap(cur, next);
            order[cur] = cur;
            cur = next;
        }
        order[cur] = cur;
    }
}

fn plan_roll<'a>(profile: &Profile, map: &ColumnMap, r: &'a RollUp) -> Roll<'a> {
    let mut key_columns = Vec::new();
    let mut additive = Vec::new();
    let mut additive_strict = Vec::new();
    let mut required_descriptive = Vec::new();
    let mut territory = None;
    for (field, col, _) in &map.fields {
        if let Some(k) = ADDITIVE.iter().position(|f| f == field) {
            additive.push((k, *col));
            additive_strict.push(profile.required.contains(field) || profile.constants.contains_key(field) || profile.percent_fields.contains(field));
        } else if DESCRIPTIVE.contains(&field.as_str()) {
            if profile.required.contains(field) {
                required_descriptive.push(*col);
            }
        } else if field == "territory" && r.territory_groups.is_some() {
            territory = r.territory_groups.as_ref().map(|g| (*col, g));
        } else {
            key_columns.push(*col);
        }
    }
    let controls = profile
        .control_fields
        .iter()
        .filter_map(|f| {
            let col = map.get(f)?.0;
            let k = additive.iter().position(|(_, c)| *c == col)?;
            Some((col, k))
        })
        .collect::<Vec<_>>();
    // A control field that is not summed cannot take the plain path: make it strict.
    let all_controls_summed = profile.control_fields.iter().all(|f| map.get(f).is_none() || ADDITIVE.contains(&f.as_str()));
    if !all_controls_summed {
        additive_strict.iter_mut().for_each(|s| *s = true);
        key_columns.clear();
    }
    let decimal = profile.number_format.decimal_byte();
    let mut key_columns_in_order = key_columns.clone();
    key_columns_in_order.sort_unstable();
    key_columns_in_order.dedup();
    Roll {
        key_columns,
        key_columns_in_order,
        territory,
        additive,
        additive_strict,
        required_descriptive,
        controls,
        decimal,
        territory_constant: profile.constants.contains_key("territory"),
        table: RwLock::new(Table::default()),
        lines: Mutex::new(RolledStore::default()),
        tallies: Mutex::new(Vec::new()),
        hasher: foldhash::fast::FixedState::default(),
    }
}

/// The statement kind of a large file, from the profile its first rows fit (`None` when no
/// profile fits or the file cannot be read; the import then says why).
pub fn peek_kind(path: &std::path::Path, opts: &ImportOptions) -> Option<StatementKind> {
    let mut first = read_head(&mut std::fs::File::open(path).ok()?).ok()?;
    if first.starts_with(&[0x1f, 0x8b]) {
        first = read_head(&mut flate2::read::MultiGzDecoder::new(&first[..])).unwrap_or_default();
    }
    let (encoding, bom) = super::decode::sniff(&first, false);
    let (text, _) = encoding.decode_without_bom_handling(&first[bom.min(first.len())..]);
    let grid = head_grid(&text, encoding, opts).ok()?;
    profile_for(&path.display().to_string(), &grid, opts).ok().map(|p| p.statement_kind)
}

/// Which statement kinds roll up, for an audit of `audited`: the others' sales data.
pub fn sales_kinds(audited: StatementKind) -> Vec<StatementKind> {
    [StatementKind::Distributor, StatementKind::Dsp].into_iter().filter(|k| *k != audited).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_by_row_orders_lines_and_keeps_them_whole() {
        use crate::ledger::SourceRef;
        let line = |row: u64| {
            let mut l = LedgerLine::new(SourceRef::new("f.csv", None, row), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
            l.units = Some(Decimal::from(row));
            l
        };
        for rows in [vec![], vec![5], vec![3, 1, 2], vec![9, 8, 7, 6, 5, 4, 3, 2, 1], vec![2, 1, 4, 3, 6, 5], vec![4, 7, 1, 9, 2, 8, 3, 6, 5]] {
            let mut lines: Vec<LedgerLine> = rows.iter().map(|r| line(*r)).collect();
            sort_by_row(&mut lines);
            let mut want = rows.clone();
            want.sort();
            assert_eq!(lines.iter().map(|l| l.source.row).collect::<Vec<_>>(), want);
            assert!(lines.iter().all(|l| l.units == Some(Decimal::from(l.source.row))));
        }
    }

    #[test]
    fn territories_are_grouped_once_each_whether_two_bytes_or_not() {
        let mut t = Territories::default();
        let mut calls = 0;
        let mut group = |text: &str| {
            calls += 1;
            match text.trim() {
                "US" | "CA" => Some("home".to_string()),
                "" => None,
                _ => Some("world".to_string()),
            }
        };
        for _ in 0..3 {
            for (cell, expected) in [("US", Some("home")), ("GB", Some("world")), (" US ", Some("home")), ("", None), ("XKX", Some("world")), ("  ", None), ("CA", Some("home"))] {
                assert_eq!(t.group_of(cell.as_bytes(), &mut group).map(str::to_string), expected.map(str::to_string), "{cell:?}");
            }
        }
        assert_eq!(calls, 7, "each cell text worked out once");
    }

    #[test]
    fn tallies_add_exactly_refuse_what_would_not_fit_and_combine_across_workers() {
        let n = |mantissa: i64, scale: u8| PlainNumber { mantissa, scale };
        // Five money columns: a head, a word of scales and five sums (eight words).
        let mut a = Tallies::new(5);
        let mut b = Tallies::new(5);
        assert_eq!(a.words, 8);
        let row = [n(3, 0), n(125, 2), n(0, 0), n(-7, 1), n(1, 10)];
        assert_eq!(a.add(2, PlainValues { numbers: &row, present: 0b11011 }), Some(()));
        assert_eq!(a.add(2, PlainValues { numbers: &row, present: 0b00001 }), Some(()));
        assert_eq!(b.add(0, PlainValues { numbers: &row, present: 0b10000 }), Some(()));
        assert_eq!(b.add(2, PlainValues { numbers: &row, present: 0b00010 }), Some(()));
        // A sum past what a Decimal holds (i64::MAX rescaled to 18 decimals): refused, and
        // nothing of the row is added, not even to the columns that would fit.
        let big = [n(1, 0), n(i64::MAX, 0), n(0, 0), n(0, 0), n(0, 0)];
        let tiny = [n(1, 0), n(1, 18), n(0, 0), n(0, 0), n(0, 0)];
        assert_eq!(b.add(1, PlainValues { numbers: &big, present: 0b00011 }), Some(()));
        assert_eq!(b.add(1, PlainValues { numbers: &tiny, present: 0b00011 }), None);
        let (rows, present, sums) = b.get(1, 5).unwrap_or_else(|| unreachable!());
        let sums: Vec<Decimal> = sums.map(ExactSum::to_decimal).collect();
        assert_eq!((rows, present, sums[0], sums[1]), (1, 0b00011, Decimal::ONE, Decimal::from(i64::MAX)));
        let (rows, present, sums) = a.get(2, 5).unwrap_or_else(|| unreachable!());
        assert_eq!((rows, present), (2, 0b11011));
        let sums: Vec<String> = sums.map(|s| s.to_decimal().to_string()).collect();
        assert_eq!(sums, ["6", "1.25", "0", "-0.7", "0.0000000001"]);
        // Entries a worker never touched have no tally there (or an empty one).
        assert!(a.get(7, 5).is_none_or(|(rows, present, _)| rows == 0 && present == 0));
        // The lines get every worker's sums; a column no row had a value in stays empty.
        let (mut table, mut store) = (Table::default(), RolledStore::default());
        for i in 0..3u64 {
            let line = LedgerLine::new(crate::ledger::SourceRef::new("f.csv", None, i + 2), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
            let key = format!("k{i}").into_bytes();
            let at = table.insert(Entry { hash: i, key: KeyBytes::new(&key), careful: false, first_row: i + 2, currency: line.currency });
            store.place(at, line);
        }
        // (field in ADDITIVE, column): units, gross, fees, net, royalty.
        let additive = [(0, 9), (2, 10), (3, 11), (5, 12), (6, 13)];
        let (lines, rows) = store.into_lines(&additive, &[a, b]).unwrap_or_else(|| unreachable!());
        assert_eq!(lines[2].rows, 1 + 3);
        assert_eq!(lines[2].units, Some(Decimal::from(6)));
        assert_eq!(lines[2].gross, Some(Decimal::new(250, 2)));
        assert_eq!(lines[2].fees, None);
        assert_eq!(lines[2].net, Some(Decimal::new(-7, 1)));
        assert_eq!(lines[2].royalty, Some(Decimal::new(1, 10)));
        assert_eq!((lines[0].rows, lines[0].royalty, lines[0].units), (2, Some(Decimal::new(1, 10)), None));
        assert_eq!(rows, lines.iter().map(|l| l.rows).sum::<u64>());
    }

    #[test]
    fn small_files_are_cut_in_shorter_chunks() {
        const MIB: usize = 1 << 20;
        // A 46 MB statement for two workers: 1.4 MiB chunks, 32 of them.
        assert_eq!(chunk_size(CHUNK_BYTES, 46_000_000, 2), 46_000_000 / 32);
        // Large files keep the full size; small ones go no lower than 1 MiB.
        assert_eq!(chunk_size(CHUNK_BYTES, 1 << 30, 2), CHUNK_BYTES);
        assert_eq!(chunk_size(CHUNK_BYTES, 5_000_000, 2), MIB);
        assert_eq!(chunk_size(CHUNK_BYTES, 0, 0), MIB);
        // A size asked for below that (tests cut files into many chunks) is kept.
        assert_eq!(chunk_size(64, 1 << 30, 2), 64);
        assert_eq!(chunk_size(0, 1 << 30, 2), 1);
    }

    proptest::proptest! {
        /// The key cells copied 16 bytes at a time from the text are the key of the cells
        /// copied one by one; cells outside the text, or too long, are left to that copy.
        #[test]
        fn key_cells_from_the_text_are_the_cells(
            cells in proptest::collection::vec("[a-zA-Z0-9 \u{e9}-]{0,20}", 1..10),
            columns in proptest::collection::vec(0usize..12, 0..10),
            tail in 0usize..20,
            prefix in proptest::collection::vec(0u8..=255, 0..3),
        ) {
            let mut text = String::from_utf8_lossy(&prefix).into_owned();
            let mut spans = Vec::new();
            for c in &cells {
                spans.push(text.len()..text.len() + c.len());
                text.push_str(c);
                text.push(',');
            }
            text.push_str(&"x".repeat(tail));
            let record: Vec<&[u8]> = spans.iter().map(|r| &text.as_bytes()[r.clone()]).collect();
            let mut want = vec![1u8];
            for &c in &columns {
                want.extend_from_slice(record.get(c).copied().unwrap_or_default());
                want.push(KEY_CELL_END);
            }
            let mut got = vec![1u8];
            if key_cells_in_text(&columns, &record, text.as_bytes(), &mut got) {
                proptest::prop_assert_eq!(&got, &want);
            } else {
                proptest::prop_assert_eq!(got.len(), 1);
                // Declined only for a long cell, a cell too near the text's end, or a long key
                // (cells missing from the record are empty: any text holds them).
                let declined = columns.iter().filter_map(|c| record.get(*c)).any(|cell| {
                    let at = cell.as_ptr() as usize - text.as_ptr() as usize;
                    cell.len() >= 16 || at + 16 > text.len()
                }) || want.len() - 1 + 15 > 128 || columns.iter().any(|c| record.get(*c).is_none());
                proptest::prop_assert!(declined);
            }
            // Cells of another text are never read from this one.
            let copy = text.clone();
            let mut other = Vec::new();
            proptest::prop_assert!(!key_cells_in_text(&columns[..columns.len().min(1)], &record, copy.as_bytes(), &mut other) || columns.is_empty() || record.get(columns[0]).is_none());
        }

        /// A worker's tallies agree with Decimal addition, value and scale, for two, three
        /// and five money columns, as sums outgrow 64 bits and move to the wide ones; a row a
        /// tally refuses (past 95 bits) changes nothing.
        #[test]
        fn tallies_agree_with_decimal_addition(
            columns in proptest::sample::select(vec![2usize, 3, 5]),
            rows in proptest::collection::vec((0usize..4, proptest::collection::vec((proptest::option::of(-999_999_999_999_999_999i64..=999_999_999_999_999_999), 0u8..=18), 5)), 0..60),
        ) {
            let mut tallies = Tallies::new(columns);
            let mut want: Vec<(u64, u16, Vec<Option<Decimal>>)> = vec![(0, 0, vec![None; columns]); 4];
            for (at, cells) in rows {
                let numbers: Vec<PlainNumber> = cells.iter().take(columns).map(|(m, s)| PlainNumber { mantissa: m.unwrap_or(0), scale: *s }).collect();
                let present = cells.iter().take(columns).enumerate().filter(|(_, (m, _))| m.is_some()).fold(0u16, |p, (k, _)| p | 1 << k);
                let before = format!("{:?}", tallies.get(at, columns).map(|(r, p, s)| (r, p, s.collect::<Vec<_>>())));
                let (count, bits, sums) = &mut want[at];
                // What Decimal addition gives, if every sum stays within what a tally holds.
                let added: Option<Vec<Option<Decimal>>> = sums.iter().zip(&numbers).enumerate().map(|(k, (sum, n))| {
                    if present & (1 << k) == 0 {
                        return Some(*sum);
                    }
                    let total = sum.unwrap_or(Decimal::ZERO).checked_add(n.to_decimal())?;
                    // (Exact: rescaled to the larger scale, within 95 bits.)
                    let scale = sum.map_or(0, |s| s.scale()).max(u32::from(n.scale));
                    let mut t = total;
                    t.rescale(scale);
                    (t.scale() == scale && t == total && t.mantissa().unsigned_abs() < 1 << 95).then_some(Some(t))
                }).collect();
                match tallies.add(at, PlainValues { numbers: &numbers, present }) {
                    Some(()) => {
                        let added = added.unwrap_or_else(|| panic!("a tally took a row Decimal sums refuse"));
                        *sums = added;
                        *count += 1;
                        *bits |= present;
                    }
                    None => {
                        proptest::prop_assert!(added.is_none(), "a tally refused a row that fits");
                        let after = format!("{:?}", tallies.get(at, columns).map(|(r, p, s)| (r, p, s.collect::<Vec<_>>())));
                        proptest::prop_assert_eq!(before, after);
                    }
                }
            }
            for (at, (count, bits, sums)) in want.iter().enumerate() {
                let got = tallies.get(at, columns);
                let Some((rows, present, got)) = got else {
                    proptest::prop_assert_eq!(*count, 0);
                    continue;
                };
                proptest::prop_assert_eq!((rows, present), (*count, *bits));
                for (k, (g, w)) in got.zip(sums).enumerate() {
                    if present & (1 << k) != 0 {
                        let g = g.to_decimal();
                        proptest::prop_assert_eq!(Some(g), *w);
                        proptest::prop_assert_eq!(Some(g.scale()), w.map(|w| w.scale()));
                    }
                }
            }
        }
    }

    #[test]
    fn lines_come_out_in_row_order_with_their_own_tallies() {
        let n = |mantissa: i64| PlainNumber { mantissa, scale: 0 };
        // Entries whose first rows are out of order (two workers enter keys as they go),
        // in cycles of several lengths; each entry's tally is its row times ten.
        let rows = [40u64, 10, 30, 20, 90, 50, 60, 80, 70, 100];
        let mut tally = Tallies::new(1);
        let mut store = RolledStore::default();
        for (at, row) in rows.iter().enumerate() {
            let mut line = LedgerLine::new(crate::ledger::SourceRef::new("f.csv", None, *row), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
            line.units = Some(Decimal::from(*row));
            store.place(at, line);
            let ten = [n(i64::try_from(*row).unwrap_or_default() * 9)];
            assert_eq!(tally.add(at, PlainValues { numbers: &ten, present: 1 }), Some(()));
        }
        let (lines, total) = store.into_lines(&[(0, 9)], &[tally]).unwrap_or_else(|| unreachable!());
        let mut want = rows.to_vec();
        want.sort();
        assert_eq!(lines.iter().map(|l| l.source.row).collect::<Vec<_>>(), want);
        // Each line kept its own sums: its row (as read) plus nine times its row (tallied).
        assert!(lines.iter().all(|l| l.units == Some(Decimal::from(l.source.row * 10)) && l.rows == 2), "{lines:?}");
        assert_eq!(total, 20);
    }

    #[test]
    fn many_lines_are_added_up_in_parts_and_come_out_in_row_order() {
        // Enough entries for the tallies to be added on several threads (parts of 16,384).
        let n = 40_000u64;
        let n_ = |mantissa: i64| PlainNumber { mantissa, scale: 2 };
        let (mut a, mut b) = (Tallies::new(1), Tallies::new(1));
        let mut store = RolledStore::default();
        for at in 0..n {
            // Rows in a shuffled order (a permutation of 1..=n: 7919 is prime to n).
            let row = (at * 7919) % n + 1;
            let line = LedgerLine::new(crate::ledger::SourceRef::new("f.csv", None, row), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
            store.place(at as usize, line);
            let cents = i64::try_from(row).unwrap_or_default();
            assert_eq!(a.add(at as usize, PlainValues { numbers: &[n_(cents)], present: 1 }), Some(()));
            if at % 3 == 0 {
                assert_eq!(b.add(at as usize, PlainValues { numbers: &[n_(1)], present: 1 }), Some(()));
            }
        }
        let (lines, rows) = store.into_lines(&[(5, 12)], &[a, b]).unwrap_or_else(|| unreachable!());
        assert_eq!(lines.len() as u64, n);
        assert!(lines.iter().enumerate().all(|(i, l)| l.source.row == i as u64 + 1), "in row order");
        // Each line has its own entry's sums: its row in cents, and a cent more from the
        // second worker for every third entry.
        let mut entry_of_row = vec![0u64; n as usize + 1];
        for at in 0..n {
            entry_of_row[((at * 7919) % n + 1) as usize] = at;
        }
        for l in &lines {
            let at = entry_of_row[l.source.row as usize];
            let extra = i64::from(at.is_multiple_of(3));
            assert_eq!(l.net, Some(Decimal::new(i64::try_from(l.source.row).unwrap_or_default() + extra, 2)), "row {}", l.source.row);
            assert_eq!(l.rows, 2 + extra as u64);
        }
        assert_eq!(rows, lines.iter().map(|l| l.rows).sum::<u64>());
    }

    #[test]
    fn extra_lines_roll_in_by_entry_and_row_whatever_order_they_came_in() {
        let line = |row: u64, net: i64, title: &str| {
            let mut l = LedgerLine::new(crate::ledger::SourceRef::new("f.csv", None, row), "p", StatementKind::Dsp, LineKind::Income, Currency::parse("USD").unwrap_or_else(|| unreachable!()));
            l.net = Some(Decimal::from(net));
            l.title = Some(title.into());
            l
        };
        let build = |extra_order: &[usize]| {
            let mut store = RolledStore::default();
            // Placed out of order (the workers place their keys' lines as they go).
            store.place(1, line(10, 100, "b"));
            store.place(0, line(5, 1000, "a"));
            let extra = [(0, line(7, 2, "later")), (0, line(3, 1, "first")), (1, line(12, 4, "b2"))];
            for &i in extra_order {
                let (at, l) = &extra[i];
                store.extra.push((*at, l.clone()));
            }
            store.into_lines(&[], &[]).unwrap_or_else(|| unreachable!())
        };
        let (lines, rows) = build(&[0, 1, 2]);
        // Row 3 came before the placed line's row 5: it describes the line; the sums are all.
        assert_eq!((lines[0].source.row, lines[0].title.as_deref(), lines[0].net, lines[0].rows), (3, Some("first"), Some(Decimal::from(1003)), 3));
        assert_eq!((lines[1].source.row, lines[1].net, lines[1].rows), (10, Some(Decimal::from(104)), 2));
        assert_eq!(rows, 5);
        let (again, _) = build(&[2, 1, 0]);
        assert_eq!(format!("{again:?}"), format!("{lines:?}"));
        // An entry without its line is an error, not a shorter ledger.
        let mut store = RolledStore::default();
        store.place(1, line(2, 1, "x"));
        assert!(store.into_lines(&[], &[]).is_none());
        // (The lines are collected where they lie: an `Option` of a line takes no more room.)
        assert_eq!(std::mem::size_of::<Option<LedgerLine>>(), std::mem::size_of::<LedgerLine>());
    }

    #[test]
    fn a_mapped_file_is_cut_after_its_last_line_end_within_the_chunk() {
        // A window of the chunk's size: after its last line end outside quotes.
        assert_eq!(chunk_end(b"a,b\nc,d\ne,", true, false), Some(8));
        assert_eq!(chunk_end(b"a,\"x\ny\"\nc,", true, false), Some(8));
        assert_eq!(chunk_end(b"a,\"x\ny", true, false), None);
        assert_eq!(chunk_end(b"abcdef", true, false), None);
        // The rest of the file fits: all of it, a last line without its line end too.
        assert_eq!(chunk_end(b"a,b\nc", true, true), Some(5));
        // A wider window: its first line end outside quotes…
        assert_eq!(chunk_end(b"abcdef\ngh\n", false, false), Some(7));
        assert_eq!(chunk_end(b"\"a\nb\",c\nd\n", false, false), Some(8));
        // …or the end of the file, when it comes first; none at all: the file is damaged.
        assert_eq!(chunk_end(b"\"abc\ndef", false, true), Some(8));
        assert_eq!(chunk_end(b"\"abc\ndef", false, false), None);
    }

    #[test]
    fn the_table_finds_every_key_it_holds_and_no_other() {
        let hasher = foldhash::fast::FixedState::default();
        let keys: Vec<Vec<u8>> = (0..10_000).map(|i| format!("2024-{:02}\x1fstore {}\x1fGBBEN24{i:05}{}", i % 12, i % 7, "x".repeat(i % 90)).into_bytes()).collect();
        let mut table = Table::default();
        for (i, k) in keys.iter().enumerate() {
            let hash = hasher.hash_one(&k[..]);
            let entry = Entry { hash, key: KeyBytes::new(k), careful: false, first_row: i as u64, currency: Currency::parse("USD").unwrap_or_else(|| unreachable!()) };
            assert_eq!(table.insert(entry), i);
        }
        assert!(table.index.len() >= 2 * keys.len(), "at most half full");
        // Long keys (over 64 bytes) are kept on the heap and found all the same.
        let probes: Vec<(u64, &[u8])> = keys.iter().map(|k| (hasher.hash_one(&k[..]), &k[..])).collect();
        let mut found = vec![None; probes.len()];
        table.find_many(&probes, &mut found);
        assert!(found.iter().enumerate().all(|(i, f)| *f == Some(i)));
        let absent: Vec<Vec<u8>> = (0..100).map(|i| format!("absent {i}").into_bytes()).collect();
        let probes: Vec<(u64, &[u8])> = absent.iter().map(|k| (hasher.hash_one(&k[..]), &k[..])).collect();
        let mut found = vec![Some(0); probes.len()];
        table.find_many(&probes, &mut found);
        assert!(found.iter().all(Option::is_none));
        // Same hash, other bytes: not a match.
        assert_eq!(table.find(hasher.hash_one(&keys[5][..]), b"other"), None);
    }
}
