//! Stage timings for performance work: with `ROYALTY_AUDIT_TIMINGS=1` in the environment,
//! each timed stage prints its wall time to standard error when it ends, with the
//! process's resident and peak memory then (Linux). Outputs are unchanged either way.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ROYALTY_AUDIT_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// A stage being timed; prints `stage: N ms` when dropped (if timings are on).
pub struct Stage {
    name: &'static str,
    start: Option<Instant>,
}

pub fn stage(name: &'static str) -> Stage {
    Stage { name, start: enabled().then(Instant::now) }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(s) = self.start {
            eprintln!("timing: {:<28} {:>9.1} ms{}", self.name, s.elapsed().as_secs_f64() * 1000.0, memory());
        }
    }
}

/// `  rss N MiB, peak N MiB` from /proc/self/status, or nothing where it cannot be read.
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return String::new() };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(|| "?".to_string(), |kb| (kb / 1024).to_string())
    };
    format!("   rss {:>5} MiB, peak {:>5} MiB", field("VmRSS:"), field("VmHWM:"))
}
