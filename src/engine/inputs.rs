//! The statements of an audit, imported so that large sales files fit in memory: small files
//! and the audited statements first, then large distributor/DSP files rolled up (see
//! [`crate::import::stream`]) at the grain the audit matches on: by territory when every
//! label income line names one, else by the contract's territory groups.

use std::path::PathBuf;

use crate::contract::{Contract, DealKind};
use crate::import::stream::{peek_kind, sales_kinds};
use crate::import::{self, FileError, FileImport, ImportOptions, RollUp};
use crate::ledger::{LineKind, StatementKind};

pub fn import_for_audit(paths: &[PathBuf], opts: &ImportOptions, contract: &Contract) -> (Vec<FileImport>, Vec<FileError>) {
    let audited = match contract.terms.contract.kind {
        DealKind::Royalty => StatementKind::Label,
        DealKind::Distribution => StatementKind::Distributor,
    };
    let files = match import::collect_inputs(paths) {
        Ok(f) => f,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let sales = sales_kinds(audited);
    let mut results: Vec<Option<Result<Vec<FileImport>, FileError>>> = files.iter().map(|_| None).collect();
    let mut deferred = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if import::streams(f, opts) && peek_kind(f, opts).is_some_and(|k| sales.contains(&k)) {
            deferred.push(i);
        } else {
            let _t = crate::timings::stage("import: small/audited file");
            results[i] = Some(import::import_path(f, opts));
        }
    }
    if !deferred.is_empty() {
        let label_lines = results
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .flat_map(|f| f.lines.iter())
            .filter(|l| l.statement_kind == audited && l.line_kind == LineKind::Income && contract.owns_statement_account(l.account.as_deref()));
        let mut any = false;
        let mut all_territories = true;
        for l in label_lines {
            any = true;
            all_territories &= l.territory.is_some();
        }
        let by_group = !any || !all_territories;
        let roll = ImportOptions {
            roll_up: Some(RollUp { kinds: sales, territory_groups: by_group.then(|| contract.territory_groups()) }),
            ..opts.clone()
        };
        for i in deferred {
            let _t = crate::timings::stage("import: large sales file");
            results[i] = Some(import::import_path(&files[i], &roll));
        }
    }
    let mut imports = Vec::new();
    let mut errors = Vec::new();
    for r in results.into_iter().flatten() {
        match r {
            Ok(v) => imports.extend(v),
            Err(e) => errors.push(e),
        }
    }
    import::check_dsr_parts(&mut imports);
    (imports, errors)
}
