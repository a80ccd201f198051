//! Importers: any statement file to ledger lines, rejects and non-data rows.
//!
//! `bytes → container (gz/zip) → reader (workbook | delimited text | DSR) → grid → profile
//! (detected from the header, or named) → ledger lines`.

pub mod cells;
pub mod decode;
pub mod delimited;
pub mod dsrf;
pub mod grid;
pub mod memo;
pub mod outcome;
pub mod plain_number;
pub mod profile;
pub mod stream;
pub mod table;
pub mod text_chunks;
pub mod workbook;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use outcome::{ColumnMapping, ControlCheck, FileImport, NonData, Reject, Totals};
pub use profile::{Profile, ReaderKind, load_profiles};

use grid::Grid;
use outcome::NonData as ND;

/// Largest decompressed size accepted for one file or archive entry (a guard against
/// zip bombs; statements beyond this go through the streaming path).
pub const MAX_DECOMPRESSED_BYTES: u64 = 4 << 30;

/// File extensions read when a directory is given.
const STATEMENT_EXTENSIONS: &[&str] = &["csv", "tsv", "txt", "tab", "xlsx", "xlsm", "xls", "xlsb", "ods", "gz", "zip"];

/// Where ledger lines go as they are read, instead of staying in [`FileImport::lines`]
/// (`import` of files larger than memory: the ledger is written out, only counts and totals
/// are kept). Lines arrive file by file, in row order.
pub trait LineSink: Send {
    fn write(&mut self, lines: &[crate::ledger::LedgerLine]) -> Result<(), String>;
    /// Flush what is buffered (after the last file).
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// How an import error caused by the sink begins (the file's ledger output failed).
pub const LEDGER_OUTPUT: &str = "ledger output";

/// A sink shared by the importer's threads.
#[derive(Clone)]
pub struct SharedSink(pub std::sync::Arc<std::sync::Mutex<Box<dyn LineSink>>>);

impl SharedSink {
    pub fn new(sink: impl LineSink + 'static) -> Self {
        SharedSink(std::sync::Arc::new(std::sync::Mutex::new(Box::new(sink))))
    }

    /// Send `lines` to the sink and leave it empty, keeping their counts and totals in
    /// `spilled`.
    pub fn spill(&self, lines: &mut Vec<crate::ledger::LedgerLine>, spilled: &mut Option<outcome::Spilled>) -> Result<(), String> {
        if lines.is_empty() {
            return Ok(());
        }
        self.0.lock().map_err(|_| "ledger output failed earlier".to_string())?.write(lines)?;
        spilled.get_or_insert_with(Default::default).add(lines);
        *lines = Vec::new();
        Ok(())
    }
}

impl std::fmt::Debug for SharedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSink")
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Send ledger lines here as they are read (see [`LineSink`]); `None` keeps them.
    pub sink: Option<SharedSink>,
    pub profiles: Vec<Profile>,
    /// Force this profile instead of detecting one.
    pub profile: Option<String>,
    /// Delimited files at least this large are streamed (see [`stream`]).
    pub stream_over: u64,
    /// Roll sales rows up as they stream (audits); `None` keeps every row (imports).
    pub roll_up: Option<RollUp>,
    /// Text handed to a streaming worker at a time.
    pub chunk_bytes: usize,
    /// Map large UTF-8 files into memory a chunk at a time rather than read them into
    /// buffers (see [`MappedFile`]); `--no-mmap` turns it off.
    pub map_files: bool,
}

/// Files from this size on are read by the streaming importer.
pub const DEFAULT_STREAM_OVER: u64 = 16 << 20;

impl ImportOptions {
    pub fn new(profiles: Vec<Profile>, profile: Option<String>) -> Self {
        ImportOptions { sink: None, profiles, profile, stream_over: DEFAULT_STREAM_OVER, roll_up: None, chunk_bytes: stream::CHUNK_BYTES, map_files: true }
    }
}

/// How the streaming importer rolls sales rows up (see [`stream`]).
#[derive(Debug, Clone, Default)]
pub struct RollUp {
    /// Statement kinds whose income rows are rolled up.
    pub kinds: Vec<crate::ledger::StatementKind>,
    /// Replace territories by these groups in the key.
    pub territory_groups: Option<TerritoryGroups>,
}

/// Territory code → group name, and the group of every other territory.
#[derive(Debug, Clone, Default)]
pub struct TerritoryGroups {
    pub of: std::collections::HashMap<String, String>,
    pub default: String,
}

/// A file that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// Expand directories (recursively, in sorted order) into statement files. Named files are
/// kept whatever their extension; hidden files and files of other types in directories are
/// skipped.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| FileError { file: p.display().to_string(), message: e.to_string() })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FileError> {
    let err = |e: std::io::Error| FileError { file: dir.display().to_string(), message: e.to_string() };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).map_err(err)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if extension(name).is_some_and(|x| STATEMENT_EXTENSIONS.contains(&x.as_str())) {
            out.push(path);
        }
    }
    Ok(())
}

fn extension(name: &str) -> Option<String> {
    Path::new(name).extension().and_then(|x| x.to_str()).map(|x| x.to_ascii_lowercase())
}

/// Past this many decompressed bytes, a compression ratio above [`MAX_RATIO`] is refused.
pub const RATIO_CHECK_BYTES: u64 = 64 << 20;
/// Statement text compresses about 5–50:1; deflate bombs reach 1000:1 and nested or
/// overlapping ones far more.
pub const MAX_RATIO: u64 = 100;

/// Decompress with two guards: an absolute size limit and, past 64 MiB, a ratio limit, so a
/// bomb is refused after reading a bounded amount rather than after filling memory.
fn read_limited(mut reader: impl Read, compressed: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| format!("{what}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let len = buf.len() as u64;
        if len > MAX_DECOMPRESSED_BYTES {
            return Err(format!("{what} expands to more than {} GiB; refusing it (possible zip bomb)", MAX_DECOMPRESSED_BYTES >> 30));
        }
        if len > RATIO_CHECK_BYTES && len > compressed.max(1).saturating_mul(MAX_RATIO) {
            return Err(format!(
                "{what} expands more than {MAX_RATIO} times its compressed size ({compressed} bytes to over {} MiB); refusing it (possible zip bomb)",
                len >> 20
            ));
        }
    }
    Ok(buf)
}

/// Past 64 MiB of output, a decompressing reader fails when it expands more than 100:1.
struct RatioGuard<R> {
    inner: R,
    compressed: u64,
    read: u64,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > RATIO_CHECK_BYTES && self.read > self.compressed.max(1).saturating_mul(MAX_RATIO) {
            return Err(std::io::Error::other(format!(
                "gzip data expands more than {MAX_RATIO} times its compressed size ({} bytes to over {} MiB); refusing it (possible zip bomb)",
                self.compressed,
                self.read >> 20
            )));
        }
        Ok(n)
    }
}

/// Whether a file goes to the streaming importer: a large delimited text file, plain or gzip.
pub fn streams(path: &Path, opts: &ImportOptions) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let inner = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".GZ")).unwrap_or(name);
    let workbook = extension(inner).is_some_and(|x| matches!(x.as_str(), "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" | "zip"));
    !workbook && std::fs::metadata(path).is_ok_and(|m| m.len() >= opts.stream_over)
}

/// A large regular file whose chunks are mapped into memory, read-only, one window at a
/// time: each chunk is read where it lies instead of being copied into a buffer by `read`
/// first (~0.14 s of system time less at 10M rows; see docs/import.md). A window is let go
/// once its chunk is read, so the memory the file's pages take stays within the chunks in
/// flight, however large the file.
pub struct MappedFile<'f> {
    file: &'f std::fs::File,
    pub len: u64,
}

/// Windows start at a multiple of this (a multiple of every page size in use).
const WINDOW_ALIGN: u64 = 64 << 10;

impl<'f> MappedFile<'f> {
    /// `None` (the file is then read) when it is not a regular file.
    fn new(file: &'f std::fs::File) -> Option<MappedFile<'f>> {
        let meta = file.metadata().ok()?;
        (meta.is_file() && meta.len() > 0).then_some(MappedFile { file, len: meta.len() })
    }

    /// The bytes from `at` to at most `at + len` (to the end of the file): a map and where
    /// they start in it.
    pub fn window(&self, at: u64, len: u64) -> std::io::Result<(memmap2::Mmap, usize)> {
        let start = at - at % WINDOW_ALIGN;
        let end = at.saturating_add(len).min(self.len);
        let size = usize::try_from(end.saturating_sub(start)).map_err(std::io::Error::other)?;
        // SAFETY: the map is only read, and the file stays open while it lives. What mapping
        // cannot rule out is another process changing the file meanwhile: bytes written then
        // may show in the text read, and a file cut short would end the process with SIGBUS
        // instead of an error. Statements under audit are not being written while they are
        // read; ripgrep maps files on the same terms. `--no-mmap` reads every file instead.
        let map = unsafe { memmap2::MmapOptions::new().offset(start).len(size).map(self.file) }?;
        // The window is read in order, once: the kernel may read ahead further.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok((map, (at - start) as usize))
    }
}

/// Stream a large file; `None` when the streaming importer declines it.
fn import_streamed(path: &Path, opts: &ImportOptions) -> Option<Result<Vec<FileImport>, FileError>> {
    let display = path.display().to_string();
    let fail = |message: String| FileError { file: display.clone(), message };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Some(Err(fail(e.to_string()))),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut magic = Vec::new();
    if let Err(e) = (&mut file).take(4).read_to_end(&mut magic) {
        return Some(Err(fail(e.to_string())));
    }
    let magic = &magic[..];
    if magic.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) || magic.starts_with(b"PK\x03\x04") {
        return None;
    }
    let gzip = magic.starts_with(&[0x1f, 0x8b]);
    let mapped = if gzip || !opts.map_files { None } else { MappedFile::new(&file) };
    let rest = std::io::Cursor::new(magic.to_vec()).chain(&file);
    let result = if gzip {
        let reader = RatioGuard { inner: flate2::read::MultiGzDecoder::new(rest), compressed: size, read: 0 };
        stream::import_streaming(&display, reader, None, opts)
    } else {
        stream::import_streaming(&display, rest, mapped, opts)
    };
    match result {
        Ok(f) => Some(Ok(vec![f])),
        Err(stream::Declined::NotStreamable) => None,
        Err(stream::Declined::Error(e)) => Some(Err(fail(e))),
    }
}

/// Import one file from disk (an archive may hold several statements).
pub fn import_path(path: &Path, opts: &ImportOptions) -> Result<Vec<FileImport>, FileError> {
    let display = path.display().to_string();
    if streams(path, opts)
        && let Some(result) = import_streamed(path, opts)
    {
        return result;
    }
    let bytes = std::fs::read(path).map_err(|e| FileError { file: display.clone(), message: e.to_string() })?;
    import_bytes(&display, bytes, opts)
}

/// Import a statement held in memory; `name` is used for messages, source references and
/// to tell formats apart by extension.
pub fn import_bytes(name: &str, bytes: Vec<u8>, opts: &ImportOptions) -> Result<Vec<FileImport>, FileError> {
    let fail = |message: String| FileError { file: name.to_string(), message };
    let ext = extension(name).unwrap_or_default();
    if ext == "gz" || bytes.starts_with(&[0x1f, 0x8b]) {
        let inner = read_limited(flate2::read::MultiGzDecoder::new(&bytes[..]), bytes.len() as u64, "gzip data").map_err(fail)?;
        let inner_name = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".GZ")).unwrap_or(name);
        return import_bytes(inner_name, inner, opts).map(|mut v| {
            for f in &mut v {
                f.file = format!("{}.gz", f.file);
                let file = crate::ledger::LineText::from(f.file.as_str());
                for l in &mut f.lines {
                    l.source.file = file;
                }
                for r in &mut f.rejects {
                    r.source.file = file;
                }
                for n in &mut f.nondata {
                    n.source.file = file;
                }
                for c in &mut f.controls {
                    c.source.file = file;
                }
            }
            v
        });
    }
    if ext == "zip" {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| fail(format!("not a readable zip archive: {e}")))?;
        let mut names: Vec<String> = archive.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
        names.sort();
        let mut out = Vec::new();
        for entry_name in names {
            if entry_name.ends_with('/') || entry_name.starts_with("__MACOSX") || Path::new(&entry_name).file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            let entry = archive.by_name(&entry_name).map_err(|e| fail(format!("{entry_name}: {e}")))?;
            let compressed = entry.compressed_size();
            let data = read_limited(entry, compressed, &format!("zip entry {entry_name}")).map_err(fail)?;
            out.extend(import_bytes(&format!("{name}!{entry_name}"), data, opts)?);
        }
        return Ok(out);
    }
    let forced = match &opts.profile {
        Some(p) => Some(
            opts.profiles
                .iter()
                .find(|q| q.name == *p)
                .ok_or_else(|| fail(format!("unknown profile '{p}' (see `royalty-audit profiles`)")))?,
        ),
        None => None,
    };
    let is_workbook = matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "xls" | "ods")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
        || bytes.starts_with(b"PK\x03\x04");
    let (format, grid) = if is_workbook {
        let format = if ext.is_empty() { "workbook".to_string() } else { ext.clone() };
        (format, workbook::read_workbook(bytes, &ext).map_err(|e| fail(format!("not a readable workbook: {e}")))?)
    } else {
        let decoded = decode::decode(&bytes);
        let base_name = Path::new(name).file_name().and_then(|n| n.to_str()).unwrap_or(name);
        let dsr_profile = forced.filter(|p| p.reader == ReaderKind::Dsrf).or_else(|| {
            if forced.is_some() {
                return None;
            }
            opts.profiles.iter().find(|p| {
                p.reader == ReaderKind::Dsrf
                    && (dsrf::looks_like_dsrf(&decoded.text) || p.file_name.as_ref().is_some_and(|re| re.is_match(base_name)))
            })
        });
        if let Some(p) = dsr_profile {
            let mut r = dsrf::import_dsrf(name, &decoded.text, &p.name);
            r.encoding = Some(decoded.encoding.to_string());
            return Ok(vec![r]);
        }
        let grid = delimited::read_delimited(&bytes, None).map_err(|e| fail(format!("not readable as delimited text: {e}")))?;
        let format = match grid.delimiter {
            Some(b'\t') => "tsv",
            Some(b';') => "csv;",
            Some(b'|') => "psv",
            _ => "csv",
        };
        (format.to_string(), grid)
    };
    let profile = match forced {
        Some(p) if p.reader == ReaderKind::Dsrf => return Err(fail(format!("profile '{}' reads DSR flat files, and this is a {format} file", p.name))),
        Some(p) => p,
        None => detect_profile(name, &grid, &opts.profiles).map_err(fail)?,
    };
    Ok(vec![apply_profile(name, &format, grid, profile)])
}

/// Choose the profile whose header row fits best: highest priority among those whose
/// required columns are all present, then most columns mapped, then name.
pub fn detect_profile<'a>(name: &str, grid: &Grid, profiles: &'a [Profile]) -> Result<&'a Profile, String> {
    let base_name = Path::new(name).file_name().and_then(|n| n.to_str()).unwrap_or(name);
    let mut best: Option<((bool, i32, usize), &Profile)> = None;
    let mut closest: Option<(usize, &Profile, Vec<String>)> = None;
    for p in profiles.iter().filter(|p| p.reader == ReaderKind::Table) {
        let name_fits = p.file_name.as_ref().is_none_or(|re| re.is_match(base_name));
        for sheet in &grid.sheets {
            if let Some((_, map)) = table::find_header(sheet, p) {
                let key = (name_fits, p.priority, map.fields.len());
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, p));
                }
            } else {
                // Remember the nearest miss for the error message.
                for row in sheet.rows.iter().take(p.header_search_rows) {
                    let map = table::map_columns(row, p);
                    let found = p.require.iter().filter(|f| map.fields.iter().any(|(g, ..)| g == *f)).count();
                    if found > 0 && closest.as_ref().is_none_or(|(n, ..)| found > *n) {
                        let missing = p.require.iter().filter(|f| !map.fields.iter().any(|(g, ..)| g == *f)).cloned().collect();
                        closest = Some((found, p, missing));
                    }
                }
            }
        }
    }
    match (best, closest) {
        (Some((_, p)), _) => Ok(p),
        (None, Some((_, p, missing))) => Err(format!(
            "no statement profile recognises this file; closest is '{}', which lacks a column for: {} (name the profile with --profile, or add one with --profiles DIR)",
            p.name,
            missing.join(", ")
        )),
        (None, None) => Err("no statement profile recognises this file (no known header row found); add a profile with --profiles DIR".into()),
    }
}

/// Apply a table profile to every sheet of a grid.
pub fn apply_profile(name: &str, format: &str, grid: Grid, profile: &Profile) -> FileImport {
    let mut out = FileImport {
        file: name.to_string(),
        profile: profile.name.clone(),
        format: format.to_string(),
        encoding: grid.encoding.map(str::to_string),
        delimiter: grid.delimiter.map(|d| (d as char).to_string()),
        hidden_sheets: grid.hidden_sheets.clone(),
        notes: grid.notes.clone(),
        ..Default::default()
    };
    for sheet in &grid.hidden_sheets {
        out.notes.push(format!("hidden sheet '{sheet}' not imported"));
    }
    for sheet in &grid.sheets {
        out.rows_read += sheet.rows.len() as u64;
        match table::find_header(sheet, profile) {
            Some((at, map)) => {
                let r = table::import_sheet(name, sheet, profile, at, &map);
                out.lines.extend(r.lines);
                out.rejects.extend(r.rejects);
                out.nondata.extend(r.nondata);
                out.controls.extend(r.controls);
                out.notes.extend(r.notes);
                if out.columns.is_empty() {
                    out.columns = r.columns;
                }
            }
            None => {
                if !sheet.rows.is_empty() {
                    out.notes.push(format!(
                        "sheet '{}' has no {} header row; its {} rows are not imported",
                        sheet.name.as_deref().unwrap_or("-"),
                        profile.name,
                        sheet.rows.len()
                    ));
                }
                for row in &sheet.rows {
                    let reason = if row.is_blank() { "blank row" } else { "sheet without a header row" };
                    out.nondata.push(ND {
                        source: crate::ledger::SourceRef::new(name, sheet.name.as_deref(), row.number),
                        reason: reason.into(),
                    });
                }
            }
        }
    }
    if !out.rows_balance() {
        out.notes.push("internal error: row accounting does not balance".into());
    }
    out
}

/// Import many paths; files that cannot be read are returned as errors beside the rest.
pub fn import_paths(paths: &[PathBuf], opts: &ImportOptions) -> (Vec<FileImport>, Vec<FileError>) {
    let mut imports = Vec::new();
    let mut errors = Vec::new();
    match collect_inputs(paths) {
        Ok(files) => {
            for f in files {
                match import_path(&f, opts) {
                    Ok(mut v) => {
                        if let Some(sink) = &opts.sink {
                            for file in &mut v {
                                if let Err(e) = sink.spill(&mut file.lines, &mut file.spilled) {
                                    errors.push(FileError { file: file.file.clone(), message: format!("{LEDGER_OUTPUT}: {e}") });
                                    return (imports, errors);
                                }
                            }
                        }
                        imports.extend(v)
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }
    check_dsr_parts(&mut imports);
    (imports, errors)
}

/// Multi-part DSR reports (`1of2`, `2of2`): note any part missing from the import.
pub fn check_dsr_parts(imports: &mut [FileImport]) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut parts: BTreeMap<String, (u32, BTreeSet<u32>)> = BTreeMap::new();
    for f in imports.iter().filter(|f| f.format == "dsrf") {
        if let Some((part, of)) = dsrf::part_of(&f.file) {
            let e = parts.entry(dsrf::report_key(&f.file)).or_insert((of, BTreeSet::new()));
            e.1.insert(part);
        }
    }
    for f in imports.iter_mut().filter(|f| f.format == "dsrf") {
        if let Some((_, of)) = dsrf::part_of(&f.file)
            && let Some((_, seen)) = parts.get(&dsrf::report_key(&f.file))
        {
            let missing: Vec<String> = (1..=of).filter(|p| !seen.contains(p)).map(|p| format!("{p}of{of}")).collect();
            if !missing.is_empty() {
                f.notes.push(format!("report incomplete: part(s) {} not among the files imported", missing.join(", ")));
            }
        }
    }
}
