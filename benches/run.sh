#!/usr/bin/env bash
# Benchmark (issue 6): the full audit of an N-line DSP report against a label statement,
# and the same reconciliation in DuckDB and polars (Python) in the same run. Prints wall
# time, peak memory and rows/s (medians of RUNS runs) and the ratio to each baseline.
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

# measure NAME CMD... → "seconds maxrss_kb" medians over RUNS; last output kept in $DATA/NAME.out
measure() {
  local name=$1; shift
  local times=() mems=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$DATA/time.txt" "$@" > "$DATA/$name.out" 2> "$DATA/$name.err" || { echo "$name failed: $(tail -1 "$DATA/$name.err")" >&2; echo "nan nan"; return; }
    read -r t m < "$DATA/time.txt"; times+=("$t"); mems+=("$m")
  done
  python3 -c "import statistics,sys; t=[float(x) for x in sys.argv[1].split()]; m=[int(x) for x in sys.argv[2].split()]; print(statistics.median(t), int(statistics.median(m)))" "${times[*]}" "${mems[*]}"
}

printf "%-10s %-16s %9s %10s %12s %10s %10s\n" rows tool wall_s peak_MiB rows_per_s vs_duckdb vs_polars
for n in ${ROWS[@]}; do
  dir="$DATA/$n"
  if [ ! -f "$dir/dsp/dsp_sales.csv" ]; then
    mkdir -p "$dir"; ./target/release/examples/make_bench "$n" "$dir"
  fi
  # --lag-months 0: the baselines flag every missing key, whatever its sale month.
  read -r ours_t ours_m < <(measure ours ./target/release/royalty-audit audit --contract benches/contract.toml "$dir/dsp" "$dir/label" --format json --lag-months 0)
  read -r duck_t duck_m < <(measure duckdb "$VENV/bin/python" benches/baseline_duckdb.py "$dir")
  read -r pol_t pol_m < <(measure polars "$VENV/bin/python" benches/baseline_polars.py "$dir")
  for tool in royalty-audit duckdb polars; do
    case $tool in royalty-audit) t=$ours_t m=$ours_m;; duckdb) t=$duck_t m=$duck_m;; polars) t=$pol_t m=$pol_m;; esac
    python3 - "$n" "$tool" "$t" "$m" "$duck_t" "$pol_t" <<'PY'
import sys
n, tool, t, m, d, p = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:7])
rate = int(n) / t if t == t and t > 0 else float("nan")
print(f"{n:<10} {tool:<16} {t:9.2f} {m/1024:10.0f} {rate:12.0f} {t/d:10.2f} {t/p:10.2f}")
PY
  done
  echo "  duckdb: $(cat "$DATA/duckdb.out")"
  echo "  polars: $(cat "$DATA/polars.out")"
  echo "  planted: $(awk -F, 'NR>1{c[$4]++} END{for(k in c) printf "%s=%d ", k, c[k]}' "$dir/planted.csv")"
  echo "  royalty-audit: $(python3 -c "import json,sys; v=json.load(open(sys.argv[1])); import collections; c=collections.Counter(f['rule'] for f in v['findings'] if f['severity']=='claim'); print(dict(sorted(c.items())))" "$DATA/ours.out")"
done
