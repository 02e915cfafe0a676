#!/usr/bin/env bash
# Copies the seed inputs of every fuzz target into tests/fuzz/corpus/<target>/ (not committed).
# Run from anywhere; seeds: fixtures/<spec>/{ok,bad}/* and, for camt and mt940, the shared
# real samples (../shared/real-samples beside the repository), when present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
samples="${ONECARD_REAL_SAMPLES:-$repo/../shared/real-samples}"

seed() { # target, source folders...
  local target="$1"; shift
  local out="$here/corpus/$target"
  mkdir -p "$out"
  for dir in "$@"; do
    [ -d "$dir" ] || continue
    for f in "$dir"/*; do
      [ -f "$f" ] || continue
      case "$f" in *.expected.json|*.expected-error.txt) continue ;; esac
      cp "$f" "$out/seed-$(basename "$(dirname "$dir")")-$(basename "$dir")-$(basename "$f")"
    done
  done
  echo "$target: $(find "$out" -type f | wc -l) inputs"
}

fx="$repo/fixtures"
seed pos_fixed_width "$fx/pos-settlement-fixed-width/ok" "$fx/pos-settlement-fixed-width/bad"
seed onecard_csv "$fx/onecard-settlement-csv/ok" "$fx/onecard-settlement-csv/bad"
seed statement_csv "$fx/collection-account-statement-csv/ok" "$fx/collection-account-statement-csv/bad"
seed camt "$fx/camt.053/ok" "$fx/camt.053/bad" "$fx/camt.054/ok" "$fx/camt.054/bad" \
  "$samples/camt052" "$samples/camt053" "$samples/camt054"
seed mt940 "$fx/mt940/ok" "$fx/mt940/bad" "$samples/mt940"
seed payment_body "$fx/payment-bodies"
