#!/usr/bin/env bash
# Runs every benchmark on both databases (release builds, the full sizes) and regenerates the
# README's table of figures from the `figure` lines they print, so the table holds what one
# run measured and nothing else. A benchmark that fails (any refused request, a verify that
# finds a problem) stops the script and the README is left as it was.
#
#   benches/all.sh                 # everything, both databases (about 15 minutes here)
#   BENCH_OUT=/tmp/b benches/all.sh
#
# PostgreSQL: ONECARD_BENCH_PG_URL, as for each benchmark. The logs and figures.tsv stay in
# $BENCH_OUT (default target/bench-figures).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${BENCH_OUT:-${CARGO_TARGET_DIR:-target}/bench-figures}"
mkdir -p "$out"
rm -f "$out"/*.log "$out/figures.tsv"
cargo bench --no-run
run() {
  local name=$1
  shift
  printf '\n== %s (%s)\n' "$name $*" "$(date -u +%H:%M:%S)"
  cargo bench --bench "$name" -- "$@" | tee "$out/$name$*.log"
}
run ledger_writer
run payments_load
run bankfiles
run recon
run recon --db --backend both
run recon --db --counter --backend both
cat "$out"/*.log | grep '^figure' > "$out/figures.tsv"
python3 benches/support/readme_table.py "$out/figures.tsv" README.md \
  "$(git rev-parse --short HEAD)$(git diff --quiet -- src migrations || echo '+changes')"
echo "README.md: table regenerated from $out/figures.tsv"
