#!/usr/bin/env bash
# Installs the pinned tools the tests need into .tools/ (ignored by git). Idempotent: a tool that is
# already there at its pinned version is reused. Prints what it installs. Needs Go (the machine's)
# and the Go module proxy; retries transient registry errors.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
BIN=$TOOLS/bin
mkdir -p "$BIN"

HELM_VERSION=v3.22.0

retry() {
  local n=1 max=4 delay=5
  until "$@"; do
    if (( n >= max )); then echo "setup-tools: failed after $n tries: $*" >&2; return 1; fi
    echo "setup-tools: try $n failed, retrying in ${delay}s: $*" >&2
    sleep "$delay"; n=$((n + 1)); delay=$((delay * 2))
  done
}

install_helm() {
  if [[ -x $BIN/helm ]] && [[ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
    echo "setup-tools: helm $HELM_VERSION already in .tools/bin"
    return
  fi
  command -v go >/dev/null || { echo "setup-tools: Go is needed to build helm" >&2; return 1; }
  echo "setup-tools: building helm $HELM_VERSION from helm.sh/helm/v3 (Go module proxy)..."
  local start=$SECONDS
  # The version is stamped so `helm version` reports it (go install does not set it otherwise).
  retry env GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "setup-tools: helm $HELM_VERSION built in $((SECONDS - start))s -> .tools/bin/helm"
}

install_helm
