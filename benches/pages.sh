#!/usr/bin/env bash
# Staff page latency against API baselines, measured in the same run on one release binary:
# `cargo build --release && benches/pages.sh`. It starts `serve --demo` on a fresh SQLite folder
# on port 8282, takes 300 payments through the API, signs in through the form (timing the
# PBKDF2 check once), then times 200 sequential requests per address after 20 warm-up ones and
# prints each page as milliseconds and as ratios to /healthz and to GET /v1/ledger/trial-balance.
# Needs curl and bc.
set -euo pipefail
BIN=$(realpath "${ONECARD_BIN:-${CARGO_TARGET_DIR:-target}/release/onecard}")
W=$(mktemp -d); cd "$W"
ONECARD_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn $BIN --database "sqlite://$W/data/onecard.db" serve --demo --bind 127.0.0.1:8282 --workers 2 > out.txt 2> err.txt &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening" err.txt && break; sleep 0.2; done
sleep 1
tok() { awk -v r="$1" '$1 == r { print $2; exit }' out.txt; }
CLERK=$(tok clerk); FIN=$(tok finance)
PW=$(awk '$1=="demo-finance"{print $2}' out.txt)
B=http://127.0.0.1:8282
DAY=$(TZ=Asia/Shanghai date +%F)
# 300 payments today through the API.
for i in $(seq 1 300); do
  trace=$(printf '%06d' $i); rrn=$(printf '0004512%05d' $i)
  curl -s -o /dev/null -H "Authorization: Bearer $CLERK" -H "Idempotency-Key: m-$i" -H 'content-type: application/json' \
    -d "{\"channel\":\"bank_card\",\"department\":\"D0$((i%4+1))\",\"window\":\"W0$((i%6+1))\",\"lines\":[{\"fee_code\":\"SC-JL-01\",\"quantity\":1,\"amount\":\"200.00\"}],\"amount\":\"200.00\",\"card\":{\"merchant_id\":\"898440379930001\",\"terminal_id\":\"11002001\",\"batch_no\":\"000001\",\"trace_no\":\"$trace\",\"rrn\":\"$rrn\",\"auth_code\":\"890123\",\"masked_pan\":\"622848******0123\",\"txn_time\":\"${DAY}T09:30:15+08:00\"}}" \
    $B/v1/payments
done
# Sign in through the form (timed once: PBKDF2 at 600,000 iterations).
curl -s -c jar -b jar $B/web/sign-in -o signin.html
CSRF=$(grep -o 'name="csrf" value="[^"]*"' signin.html | sed 's/.*value="//;s/"//')
curl -s -c jar -b jar -o /dev/null -w 'sign-in (PBKDF2 600k): %{time_total}s\n' --data-urlencode "csrf=$CSRF" --data-urlencode "name=demo-finance" --data-urlencode "password=$PW" $B/web/sign-in
curl -s -b jar $B/web/today | grep -o 'id="collected-amount">[^<]*'
N=200
mean() { # path, extra curl args
  local path=$1; shift
  for _ in $(seq 1 20); do curl -s -o /dev/null "$@" "$B$path"; done
  for _ in $(seq 1 $N); do curl -s -o /dev/null -w '%{time_total}\n' "$@" "$B$path"; done | awk '{s+=$1} END {printf "%.3f", s/NR*1000}'
}
h=$(mean /healthz)
api=$(mean /v1/ledger/trial-balance -H "Authorization: Bearer $FIN")
apiP=$(mean "/v1/payments?business_date=$DAY&limit=100" -H "Authorization: Bearer $FIN")
for p in /web/today "/web/payments?date=$DAY" /web/ledger "/web/reconciliation?date=$DAY" "/web/report?date=$DAY"; do
  m=$(mean "$p" -b jar)
  printf '%-32s %7s ms  %5.1fx healthz  %5.2fx GET /v1/ledger/trial-balance\n' "$p" "$m" "$(echo "$m/$h" | bc -l)" "$(echo "$m/$api" | bc -l)"
done
printf '%-32s %7s ms\n' /healthz "$h" /v1/ledger/trial-balance "$api" "/v1/payments?limit=100" "$apiP"
