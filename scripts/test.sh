#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need when it is missing (npm packages
# from package-lock.json, pinned tools into .tools/), starts the test cluster (scripts/cluster.sh,
# stopped again on exit), then runs every test. Arguments go to jest (`npm run test:e2e` passes
# test/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1

# npm ci when node_modules is absent or older than the lock file.
if [[ ! -f node_modules/.package-lock.json ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "test: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

bash scripts/setup-tools.sh
export HELM_BIN=$PWD/.tools/bin/helm
# The pinned tools first: OpenTofu (and helm) from .tools/bin; a machine's terraform stays usable too.
export PATH=$PWD/.tools/bin:$PATH

npx tsc --noEmit -p tsconfig.json

# The Kubernetes API server the e2e tests apply to; a cluster already up is reused and left running.
started_cluster=
trap '[[ -z $started_cluster ]] || bash scripts/cluster.sh down' EXIT
if ! bash scripts/cluster.sh status; then
  started_cluster=1
  bash scripts/cluster.sh up >/dev/null
fi

# Jest's own summary, then one plain closing line; skipped tests are counted apart, never as passed.
# Without arguments: every test but the real-engine ones first (two workers), then test/e2e on its
# own, so its engines and control plane do not take the CPU from the timing-sensitive data-plane
# tests (a request past its 1 s timeout during failover was seen when both ran at once).
# Each jest run goes through scripts/jest-run.js: jest must exit within 60 s of its results, and
# whatever a test left running is ended, named in the summary, and fails the run.
status=0
results=()
if (( $# )); then
  results=(.tools/jest-results.json)
  node scripts/jest-run.js "${results[0]}" "$@" || status=$?
else
  results=(.tools/jest-results.json .tools/jest-results-e2e.json)
  node scripts/jest-run.js "${results[0]}" --testPathIgnorePatterns '/test/e2e/' || status=$?
  node scripts/jest-run.js "${results[1]}" test/e2e || status=$?
fi
# In CI a full run may skip nothing: a skipped test is a check that did not happen (a tool missing,
# a describe.skip left behind). A run given arguments (-t, a path) skips by design and is exempt.
full_ci_run=$([[ ${CI:-} == true && $# -eq 0 ]] && echo 1 || echo 0)
node scripts/test-summary.js "$full_ci_run" "${results[@]}" || status=1
exit "$status"
