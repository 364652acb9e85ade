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
if ! bash scripts/cluster.sh status; then
  bash scripts/cluster.sh up >/dev/null
  started_cluster=1
fi
trap '[[ -n $started_cluster ]] && bash scripts/cluster.sh down' EXIT

# Jest's own summary, then one plain closing line; skipped tests are counted apart, never as passed.
results=.tools/jest-results.json
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
node -e '
  const r = require(require("path").resolve(process.argv[1]));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" || true
exit "$status"
