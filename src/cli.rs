//! Command line: parse arguments, wire the stages together, choose exit codes.
//! Exit codes: 0 success (rejected rows included), 1 a file could not be read, 2 usage error.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use crate::import::{self, FileError, ImportOptions, load_profiles};
use crate::report::audit as report_audit;
use crate::{contract, engine};
use crate::report::import_summary;

#[derive(Parser, Debug)]
#[command(name = "royalty-audit", version, about = "Audit music royalty statements against contract terms")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug)]
struct ProfileArgs {
    /// Use this statement profile instead of detecting one from the header.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Read extra statement profiles (*.toml) from DIR; a profile there replaces a bundled
    /// one of the same name.
    #[arg(long, value_name = "DIR")]
    profiles: Option<PathBuf>,
    /// Read large files with `read` rather than mapping them into memory (mapping is
    /// faster; a file cut short by another program while it is mapped ends the run).
    #[arg(long)]
    no_mmap: bool,
}

#[derive(clap::Args, Debug)]
struct AuditArgs {
    /// The contract terms (TOML, see docs/contracts.md).
    #[arg(long, value_name = "FILE")]
    contract: PathBuf,
    /// Statement files or directories (read recursively).
    #[arg(required = true, value_name = "STATEMENTS")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    profile: ProfileArgs,
    /// Date the claim is made (interest runs to it; time bars are judged at it).
    #[arg(long, value_name = "YYYY-MM-DD")]
    claim_date: Option<chrono::NaiveDate>,
    /// Line amount tolerance in the statement currency [default: 0.01].
    #[arg(long, value_name = "AMOUNT")]
    tolerance: Option<rust_decimal::Decimal>,
    /// Line amount tolerance in percent of the expected amount [default: 0.1].
    #[arg(long, value_name = "PCT")]
    tolerance_pct: Option<rust_decimal::Decimal>,
    /// FX tolerance in percent [default: 2].
    #[arg(long, value_name = "PCT")]
    fx_tolerance_pct: Option<rust_decimal::Decimal>,
    /// Months a sale may take to reach a label statement [default: 9].
    #[arg(long, value_name = "MONTHS")]
    lag_months: Option<u32>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Csv,
    Md,
    Html,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import statements into the ledger and report what was read, rejected and skipped.
    Import {
        /// Statement files or directories (read recursively).
        #[arg(required = true, value_name = "FILE_OR_DIR")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Write the ledger: FILE.csv, or FILE.parquet (a directory of Parquet files, one per period).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write every rejected row with its reason to this CSV file.
        #[arg(long, value_name = "FILE")]
        rejects: Option<PathBuf>,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Show how a file is read: detected profile, column mapping, first rows as parsed.
    Inspect {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        profile: ProfileArgs,
        /// How many rows to show.
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
    /// Audit statements against a contract: import, recompute, check, report.
    Audit {
        #[command(flatten)]
        audit: AuditArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// How many of the largest findings the table shows.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Also write the claim schedule workbook (.xlsx) an accountant hands to the label.
        #[arg(long, value_name = "FILE")]
        claim: Option<PathBuf>,
    },
    /// Show how one finding was computed: source lines, clause, arithmetic.
    Explain {
        /// The finding id as printed by `audit` (e.g. C1-1a2b3c4d).
        #[arg(value_name = "FINDING_ID")]
        id: String,
        #[command(flatten)]
        audit: AuditArgs,
    },
    /// Validate a contract file and print what was understood.
    CheckContract {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the statement profiles in force.
    Profiles {
        #[arg(long, value_name = "DIR")]
        profiles: Option<PathBuf>,
    },
}

pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match execute(cli.command, &mut out) {
        Ok(code) => code,
        Err(CliError::Usage(msg)) => {
            eprintln!("royalty-audit: {msg}");
            2
        }
        Err(CliError::File(msg)) => {
            eprintln!("royalty-audit: {msg}");
            1
        }
        Err(CliError::Contract(msg)) => {
            eprintln!("royalty-audit: {msg}");
            2
        }
    }
}

enum CliError {
    Usage(String),
    File(String),
    /// A contract file with an error (exit 2: the user's input to fix).
    Contract(String),
}

fn run_audit(args: &AuditArgs) -> Result<(Vec<import::FileImport>, engine::Audit), CliError> {
    let c = contract::load_contract(&args.contract).map_err(|e| CliError::Contract(e.to_string()))?;
    let opts = options(&args.profile)?;
    let (files, errors) = {
        let _t = crate::timings::stage("import");
        engine::inputs::import_for_audit(&args.paths, &opts, &c)
    };
    if let Some(e) = errors.first() {
        return Err(CliError::File(e.to_string()));
    }
    let engine_opts = engine::Options {
        claim_date: args.claim_date,
        amount_tolerance: args.tolerance,
        amount_tolerance_pct: args.tolerance_pct,
        fx_tolerance_pct: args.fx_tolerance_pct,
        lag_months: args.lag_months,
    };
    let result = {
        let _t = crate::timings::stage("engine");
        engine::run(&c, &files, &engine_opts)
    };
    Ok((files, result))
}

fn options(args: &ProfileArgs) -> Result<ImportOptions, CliError> {
    let profiles = load_profiles(args.profiles.as_deref()).map_err(CliError::Usage)?;
    if let Some(name) = &args.profile
        && !profiles.iter().any(|p| &p.name == name)
    {
        let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
        return Err(CliError::Usage(format!("unknown profile '{name}' (known: {})", names.join(", "))));
    }
    let mut opts = ImportOptions::new(profiles, args.profile.clone());
    opts.map_files = !args.no_mmap;
    Ok(opts)
}

/// Where a ledger file is written before it is complete (`FILE.partial`).
fn partial_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn io_err(e: impl std::fmt::Display) -> CliError {
    CliError::File(e.to_string())
}

fn execute(command: Command, out: &mut dyn Write) -> Result<i32, CliError> {
    match command {
        Command::Import { paths, profile, out: ledger_out, rejects, json } => {
            let mut opts = options(&profile)?;
            let ext = ledger_out.as_ref().map(|p| p.extension().and_then(|x| x.to_str()).unwrap_or("").to_ascii_lowercase());
            // Lines are written out as they are read (CSV), or not kept at all (no --out): the
            // import of a file larger than memory stays within bounded memory. Parquet is
            // partitioned by period and typed from every value, so it keeps the ledger.
            let sink = match (&ledger_out, ext.as_deref()) {
                (None, _) => Some(import::SharedSink::new(import_summary::DiscardLines)),
                (Some(path), Some("csv")) => {
                    // Written under a name no import reads, and renamed when complete: the
                    // output may sit in a folder being imported.
                    let partial = partial_path(path);
                    let f = std::fs::File::create(&partial).map_err(|e| io_err(format!("{}: {e}", partial.display())))?;
                    let sink = import_summary::CsvLedgerSink::new(std::io::BufWriter::new(f)).map_err(|e| io_err(format!("{}: {e}", path.display())))?;
                    Some(import::SharedSink::new(sink))
                }
                (Some(_), Some("parquet")) => None,
                (Some(path), _) => {
                    return Err(CliError::Usage(format!(
                        "--out {}: the ledger is written as .csv or .parquet (a directory of period partitions)",
                        path.display()
                    )));
                }
            };
            opts.sink = sink.clone();
            let (files, errors) = import::import_paths(&paths, &opts);
            if let (Some(sink), Some(path)) = (&sink, &ledger_out) {
                let partial = partial_path(path);
                let failed = errors.iter().find(|e| e.message.starts_with(import::LEDGER_OUTPUT));
                let finished = match (failed, sink.0.lock()) {
                    (Some(e), _) => Err(e.message.clone()),
                    (None, Ok(mut sink)) => sink.finish(),
                    (None, Err(_)) => Err("the ledger writer failed".into()),
                };
                if let Err(e) = finished.and_then(|_| std::fs::rename(&partial, path).map_err(|e| e.to_string())) {
                    let _ = std::fs::remove_file(&partial);
                    return Err(io_err(format!("{}: {e}", path.display())));
                }
            }
            if let (Some(path), Some("parquet")) = (&ledger_out, ext.as_deref()) {
                let written = crate::report::ledger_parquet::write_ledger_parquet(path, &files).map_err(io_err)?;
                let lines: usize = written.partitions.iter().map(|(_, n)| n).sum();
                eprintln!("royalty-audit: ledger of {lines} lines written to {} in {} period partitions", path.display(), written.partitions.len());
                if !written.text_money_columns.is_empty() {
                    eprintln!("royalty-audit: written as text (a value does not fit DECIMAL(38, s) exactly): {}", written.text_money_columns.join(", "));
                }
            }
            if let Some(path) = &rejects {
                let f = std::fs::File::create(path).map_err(|e| io_err(format!("{}: {e}", path.display())))?;
                import_summary::write_rejects_csv(std::io::BufWriter::new(f), &files)
                    .map_err(|e| io_err(format!("{}: {e}", path.display())))?;
            }
            if json {
                let v = import_summary::import_json(&files, &errors);
                writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default()).map_err(io_err)?;
                for e in &errors {
                    eprintln!("royalty-audit: {e}");
                }
            } else {
                import_summary::write_import_table(out, &files, &[], 50).map_err(io_err)?;
                for e in &errors {
                    eprintln!("royalty-audit: {e}");
                }
            }
            Ok(if errors.is_empty() { 0 } else { 1 })
        }
        Command::Audit { audit, format, top, claim } => {
            let (mut files, result) = run_audit(&audit)?;
            if let Some(path) = &claim {
                let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("").to_ascii_lowercase();
                if ext != "xlsx" {
                    return Err(CliError::Usage(format!("--claim {}: the claim schedule is written as .xlsx", path.display())));
                }
                crate::report::claim::write_claim(path, &result).map_err(CliError::File)?;
            }
            let _t = crate::timings::stage("report");
            match format {
                Format::Table => report_audit::write_table(out, &result, &files, top).map_err(io_err)?,
                Format::Json => {
                    let report = report_audit::json_report(&result, &files);
                    // The ledger's lines are not needed past this point. They are freed on a
                    // thread of their own while the report is written (on one core), instead
                    // of being left for the system to take back as the program ends, which
                    // holds up its exit (~50 ms for the million lines of a 10M-row audit).
                    let lines: Vec<Vec<crate::ledger::LedgerLine>> = files.iter_mut().map(|f| std::mem::take(&mut f.lines)).collect();
                    std::thread::spawn(move || drop(lines));
                    report_audit::write_json_report(&mut *out, &report).map_err(io_err)?;
                }
                Format::Csv => report_audit::write_csv(&mut *out, &result).map_err(io_err)?,
                Format::Md => report_audit::write_markdown(out, &result).map_err(io_err)?,
                Format::Html => report_audit::write_html(out, &result).map_err(io_err)?,
            }
            // The ledger and the audit are not freed one line at a time as the program ends:
            // a large audit holds a million lines, and the system takes the memory back at once.
            std::mem::forget(files);
            std::mem::forget(result);
            Ok(0)
        }
        Command::Explain { id, audit } => {
            let (_, result) = run_audit(&audit)?;
            match result.findings.iter().find(|f| f.id.eq_ignore_ascii_case(&id)) {
                Some(f) => {
                    report_audit::explain(out, f).map_err(io_err)?;
                    Ok(0)
                }
                None => Err(CliError::Usage(format!(
                    "no finding '{id}' in this audit ({} findings; run `audit` with the same arguments to list them)",
                    result.findings.len()
                ))),
            }
        }
        Command::CheckContract { file } => {
            let c = contract::load_contract(&file).map_err(|e| CliError::Contract(e.to_string()))?;
            write!(out, "{}", contract::describe::describe(&c)).map_err(io_err)?;
            Ok(0)
        }
        Command::Inspect { file, profile, rows } => {
            let opts = options(&profile)?;
            let imports = import::import_path(&file, &opts).map_err(|e: FileError| CliError::File(e.to_string()))?;
            for f in &imports {
                inspect(out, f, rows).map_err(io_err)?;
            }
            Ok(0)
        }
        Command::Profiles { profiles } => {
            let list = load_profiles(profiles.as_deref()).map_err(CliError::Usage)?;
            let mut table = Table::new();
            table.load_style(UTF8_FULL_CONDENSED);
            table.set_header(vec!["Name", "Kind", "Reader", "Title", "Detected by", "From"]);
            for p in &list {
                let detect = match (&p.file_name, p.require.is_empty()) {
                    (Some(re), true) => format!("file name /{}/", re.as_str()),
                    (Some(re), false) => format!("columns: {}; file name /{}/", p.require.join(", "), re.as_str()),
                    (None, _) => format!("columns: {}", p.require.join(", ")),
                };
                table.add_row(vec![
                    p.name.clone(),
                    format!("{:?}", p.statement_kind).to_lowercase(),
                    format!("{:?}", p.reader).to_lowercase(),
                    p.title.clone(),
                    detect,
                    p.origin.clone(),
                ]);
            }
            writeln!(out, "{table}").map_err(io_err)?;
            Ok(0)
        }
    }
}

fn inspect(out: &mut dyn Write, f: &import::FileImport, rows: usize) -> std::io::Result<()> {
    writeln!(out, "file:     {}", f.file)?;
    writeln!(out, "profile:  {}", f.profile)?;
    write!(out, "format:   {}", f.format)?;
    if let Some(e) = &f.encoding {
        write!(out, ", encoding {e}")?;
    }
    if let Some(d) = &f.delimiter {
        write!(out, ", delimiter '{}'", d.escape_debug())?;
    }
    writeln!(out)?;
    if !f.columns.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Field", "Column", "Header"]);
        for c in &f.columns {
            t.add_row(vec![c.field.clone(), c.column.clone(), c.header.clone()]);
        }
        writeln!(out, "columns:\n{t}")?;
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["Row", "Kind", "Sale period", "Store", "Territory", "ISRC", "Title", "Units", "Net", "Royalty", "Amount", "Cur"]);
    let d = |v: Option<rust_decimal::Decimal>| v.map(|x| x.to_string()).unwrap_or_default();
    for l in f.lines.iter().take(rows) {
        t.add_row(vec![
            l.source.to_string(),
            format!("{:?}", l.line_kind),
            l.sale_period.map(|p| p.to_string()).unwrap_or_default(),
            l.store.as_deref().unwrap_or_default().to_string(),
            l.territory.as_ref().map(|x| x.code().to_string()).unwrap_or_default(),
            l.isrc.as_deref().unwrap_or_default().to_string(),
            l.title.as_deref().unwrap_or_default().to_string(),
            d(l.units),
            d(l.net),
            d(l.royalty),
            d(l.amount),
            l.currency.code().to_string(),
        ]);
    }
    writeln!(out, "first {} of {} ledger lines:\n{t}", rows.min(f.lines.len()), f.lines.len())?;
    if !f.rejects.is_empty() {
        writeln!(out, "rejected rows ({}):", f.rejects.len())?;
        for r in f.rejects.iter().take(rows) {
            writeln!(out, "  {}: {}", r.source, r.reason)?;
        }
    }
    writeln!(out, "rows: {} read = {} imported + {} rejected + {} non-data", f.rows_read, f.rows_imported(), f.rejects.len(), f.nondata.len())?;
    for (reason, n) in f.nondata_reasons() {
        writeln!(out, "  non-data: {n} × {reason}")?;
    }
    for note in &f.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}
