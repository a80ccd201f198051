#!/usr/bin/env bash
# Benchmark (issue 6): the full audit of an N-line DSP report against a label statement,
# and the same reconciliation in DuckDB and polars (Python) in the same run, the three taking
# turns round after round. Prints wall time, peak memory, rows/s and CPU time (user + system)
# as medians of RUNS runs, and the ratio of wall times to each baseline.
#
#   benches/run.sh [ROWS...]        default: 1000000 10000000; RUNS=3; DATA=/tmp/royalty-bench
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=("${@:-1000000 10000000}")
RUNS="${RUNS:-3}"
DATA="${DATA:-/tmp/royalty-bench}"
VENV="${VENV:-/tmp/royalty-bench-venv}"

cargo build --release --quiet --example make_bench
cargo build --release --quiet
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet duckdb polars
fi

# run NAME CMD... → appends "seconds maxrss_kb cpu_seconds" of one run to $DATA/NAME.times;
# the last output is kept in $DATA/NAME.out
run() {
  local name=$1; shift
  if /usr/bin/time -f "%e %M %U %S" -o "$DATA/time.txt" "$@" > "$DATA/$name.out" 2> "$DATA/$name.err"; then
    read -r t m u s < "$DATA/time.txt"
    echo "$t $m $(python3 -c "print(round($u + $s, 2))")" >> "$DATA/$name.times"
  else
    echo "$name failed: $(tail -1 "$DATA/$name.err")" >&2
  fi
}

# medians NAME → "seconds maxrss_kb cpu_seconds", medians over the runs (nan when none ran)
medians() {
  [ -f "$DATA/$1.times" ] || { echo "nan nan nan"; return; }
  python3 - "$DATA/$1.times" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(str(statistics.median(c)) for c in zip(*rows)) if rows else "nan nan nan")
PY
}

printf "%-10s %-16s %9s %10s %12s %8s %10s %10s\n" rows tool wall_s peak_MiB rows_per_s cpu_s vs_duckdb vs_polars
for n in ${ROWS[@]}; do
  dir="$DATA/$n"
  if [ ! -f "$dir/dsp/dsp_sales.csv" ]; then
    mkdir -p "$dir"; ./target/release/examples/make_bench "$n" "$dir"
  fi
  rm -f "$DATA"/{ours,duckdb,polars}.times
  # The tools take turns, round after round, so that a change in the machine's load between
  # rounds falls on all three alike.
  for _ in $(seq "$RUNS"); do
    # --lag-months 0: the baselines flag every missing key, whatever its sale month.
    run ours ./target/release/royalty-audit audit --contract benches/contract.toml "$dir/dsp" "$dir/label" --format json --lag-months 0
    run duckdb "$VENV/bin/python" benches/baseline_duckdb.py "$dir"
    run polars "$VENV/bin/python" benches/baseline_polars.py "$dir"
  done
  read -r ours_t ours_m ours_c < <(medians ours)
  read -r duck_t duck_m duck_c < <(medians duckdb)
  read -r pol_t pol_m pol_c < <(medians polars)
  for tool in royalty-audit duckdb polars; do
    case $tool in royalty-audit) t=$ours_t m=$ours_m c=$ours_c;; duckdb) t=$duck_t m=$duck_m c=$duck_c;; polars) t=$pol_t m=$pol_m c=$pol_c;; esac
    python3 - "$n" "$tool" "$t" "$m" "$c" "$duck_t" "$pol_t" <<'PY'
import sys
n, tool, t, m, c, d, p = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:8])
rate = int(n) / t if t == t and t > 0 else float("nan")
print(f"{n:<10} {tool:<16} {t:9.2f} {m/1024:10.0f} {rate:12.0f} {c:8.2f} {t/d:10.2f} {t/p:10.2f}")
PY
  done
  echo "  duckdb: $(cat "$DATA/duckdb.out")"
  echo "  polars: $(cat "$DATA/polars.out")"
  echo "  planted: $(awk -F, 'NR>1{c[$4]++} END{for(k in c) printf "%s=%d ", k, c[k]}' "$dir/planted.csv")"
  echo "  royalty-audit: $(python3 -c "import json,sys; v=json.load(open(sys.argv[1])); import collections; c=collections.Counter(f['rule'] for f in v['findings'] if f['severity']=='claim'); print(dict(sorted(c.items())))" "$DATA/ours.out")"
done
