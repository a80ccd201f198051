//! Stage timings for performance work: with `ROYALTY_AUDIT_TIMINGS=1` in the environment,
//! each timed stage prints its wall time to standard error when it ends, the cores it kept
//! busy on average (the process's CPU time over the stage's wall time: 2.0 is both cores of
//! a two-core machine), the page faults the process took meanwhile (fresh memory costs the
//! kernel a fault and a zeroed page for every 4 KiB), and the process's resident and peak
//! memory then (Linux). Outputs are unchanged either way.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ROYALTY_AUDIT_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// A stage being timed; prints `stage: N ms` when dropped (if timings are on).
pub struct Stage {
    name: &'static str,
    start: Option<(Instant, Option<(f64, u64)>)>,
}

pub fn stage(name: &'static str) -> Stage {
    Stage { name, start: enabled().then(|| (Instant::now(), cpu_and_faults())) }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some((s, cpu)) = self.start {
            let wall = s.elapsed().as_secs_f64();
            let (cores, faults) = match (cpu, cpu_and_faults()) {
                (Some((a, fa)), Some((b, fb))) if wall > 0.0 => (format!("{:>5.2}", (b - a) / wall), format!("{:>7}", fb.saturating_sub(fa))),
                _ => ("    ?".to_string(), "      ?".to_string()),
            };
            eprintln!("timing: {:<28} {:>9.1} ms   cores {cores}   faults {faults}{}", self.name, wall * 1000.0, memory());
        }
    }
}

/// The process's user and system CPU time so far (in clock ticks of 1/100 s, Linux's
/// USER_HZ) and its minor page faults, from /proc/self/stat.
fn cpu_and_faults() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces): the
    // 8th is minflt, the 12th and 13th utime and stime.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(((number(11)? + number(12)?) as f64 / 100.0, number(7)?))
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
