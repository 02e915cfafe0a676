#!/usr/bin/env bash
# Runs every fuzz target for a bounded time from its seed corpus (FUZZ_SECONDS each, default
# 20): what CI runs. A crash, timeout or out-of-memory fails the run, and the input that caused
# it is copied to tests/fuzz/regressions/<target>/ so the normal tests replay it from then on
# (commit it with the fix). Longer runs: FUZZ_SECONDS=600 tests/fuzz/run-bounded.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
seconds="${FUZZ_SECONDS:-20}"
cache="${ONECARD_CI_CACHE:-/var/cache/onecard-ci}"
tools="$cache/cargo-tools"
export PATH="$tools/bin:$PATH"
# The fuzz build has its own flags (sanitizer, coverage): keep it apart from the main build.
export CARGO_TARGET_DIR="$cache/fuzz-target"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz into $tools"
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
# libFuzzer needs nightly compiler flags: the nightly toolchain when there is one, else the
# stable compiler told to accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

bash "$here/seed-corpora.sh" >/dev/null
cd "$repo"
"${fuzz[@]}" build --fuzz-dir "$here" -O 2>&1 | tail -n 2
total=0
failed=()
for target in $("${fuzz[@]}" list --fuzz-dir "$here"); do
  dict=()
  [ -f "$here/dicts/$target.dict" ] && dict=("-dict=$here/dicts/$target.dict")
  log="$(mktemp)"
  if "${fuzz[@]}" run --fuzz-dir "$here" -O "$target" "$here/corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 "${dict[@]}" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    runs=${runs:-0}
    total=$((total + runs))
    printf '%-16s %10s inputs in %ss, no crash\n' "$target" "$runs" "$seconds"
  else
    failed+=("$target")
    mkdir -p "$here/regressions/$target"
    for a in "$here/artifacts/$target"/*; do
      [ -f "$a" ] && cp "$a" "$here/regressions/$target/"
    done
    echo "$target FAILED; its input is now in tests/fuzz/regressions/$target/:" >&2
    tail -n 30 "$log" >&2
  fi
  rm -f "$log"
done
echo "fuzzing: $total inputs, ${#failed[@]} failing target(s)"
[ ${#failed[@]} -eq 0 ]
