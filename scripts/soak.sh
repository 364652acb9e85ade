#!/usr/bin/env bash
# Runs the data-plane and failover suites N times in a row (default 10) while the real-engine e2e
# suite runs in a loop beside them, loading the other core: the flake check issue 12 asks for.
# Prints one line per run and the count; exits non-zero if any run failed.
# Usage: scripts/soak.sh [N]   (needs the tools and the test cluster: npm test sets both up)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.tools/bin:$PATH CI=true CHECKPOINT_DISABLE=1
N=${1:-10}
LOG=${SOAK_LOG:-/tmp/cdktf-triton-soak}
mkdir -p "$LOG"; rm -f "$LOG/stop" "$LOG/e2e-runs.log"
bash scripts/cluster.sh up >/dev/null
( while [[ ! -f $LOG/stop ]]; do npx jest test/e2e --runInBand >>"$LOG/e2e.log" 2>&1; echo "e2e exit $?" >>"$LOG/e2e-runs.log"; done ) &
LOADER=$!
passed=0
for i in $(seq 1 "$N"); do
  start=$SECONDS
  # A run that hangs (a leaked server keeps jest alive) counts as failed after 15 minutes.
  if timeout 900 npx jest test/dataplane.test.ts test/failover.test.ts test/envoy-options.test.ts --runInBand >"$LOG/run-$i.log" 2>&1; then
    passed=$((passed + 1)); echo "soak: run $i passed in $((SECONDS - start))s"
  else
    echo "soak: run $i FAILED in $((SECONDS - start))s (log: $LOG/run-$i.log)"
  fi
done
touch "$LOG/stop"; wait "$LOADER"
echo "soak: $passed of $N runs passed; e2e runs beside them: $(grep -c . "$LOG/e2e-runs.log") ($(grep -c 'exit 0' "$LOG/e2e-runs.log") passed)"
(( passed == N ))
