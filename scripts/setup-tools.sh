#!/usr/bin/env bash
# Installs the pinned tools the tests need into .tools/ (ignored by git). Idempotent: a tool that is
# already there at its pinned version is reused. Prints what it installs. Needs Go (the machine's)
# and the Go module proxy; retries transient registry errors.
# Usage: setup-tools.sh [step...]   steps: helm tofu providers kubernetes kine kwok contour prometheus crds venvs triton chromium
# (default: all). SETUP_TOOLS_DIR installs elsewhere than .tools/ (the setup-tools test does).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${SETUP_TOOLS_DIR:-$ROOT/.tools}
BIN=$TOOLS/bin
mkdir -p "$BIN"

HELM_VERSION=v3.22.0
TOFU_VERSION=v1.10.10
K8S_VERSION=v1.37.2   # scripts/tools/kubernetes/go.mod pins the same
KINE_VERSION=v0.17.5
KWOK_VERSION=v0.8.0
GATEWAY_API_VERSION=v1.6.3
PROMETHEUS_OPERATOR_VERSION=v0.94.0   # its PrometheusRule and ServiceMonitor CRDs
PROMETHEUS_VERSION=v0.316.0   # the Go module's version of Prometheus 3.x; promtool tests our alerts
CONTOUR_VERSION=v1.33.8   # the Gateway API implementation of the Gateway canary's e2e (built against gateway-api v1.3.0)
GOOS_ARCH="$(go env GOOS)_$(go env GOARCH)"

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

# A stamp file beside each binary records what built it (the pinned version and the hash of its
# wrapper module), so a changed pin rebuilds and an unchanged one is reused.
stamp_of() { cat "$BIN/.$1.stamp" 2>/dev/null || true; }
fresh() { [[ -x $BIN/$1 ]] && [[ "$(stamp_of "$1")" == "$2" ]]; }
module_hash() { cat "$ROOT/scripts/tools/$1/go.mod" "$ROOT/scripts/tools/$1/go.sum" | sha256sum | cut -c1-16; }

# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, through
# a wrapper module that replaces its ./staging modules with their published v0.x versions.
install_kubernetes() {
  local stamp; stamp="$K8S_VERSION $(module_hash kubernetes)"
  if fresh kube-apiserver "$stamp" && fresh kube-controller-manager "$stamp" && fresh kube-scheduler "$stamp" && fresh kubectl "$stamp"; then
    echo "setup-tools: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION already in .tools/bin"
    return
  fi
  echo "setup-tools: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION from k8s.io/kubernetes (Go module proxy)..."
  local start=$SECONDS minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local v="k8s.io/component-base/version" c="k8s.io/client-go/pkg/version"
  local ld="-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  ld+=" -X $c.gitVersion=$K8S_VERSION -X $c.gitMajor=1 -X $c.gitMinor=$minor -X $c.gitTreeState=clean"
  (cd "$ROOT/scripts/tools/kubernetes" && retry env CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ld" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do echo "$stamp" > "$BIN/.$b.stamp"; done
  echo "setup-tools: Kubernetes $K8S_VERSION control plane built in $((SECONDS - start))s -> .tools/bin"
}

# go install of a module that has no replace directives, pinned.
install_go_tool() {
  local name=$1 pkg=$2 version=$3 cgo=${4:-0}
  if fresh "$name" "$version"; then echo "setup-tools: $name $version already in .tools/bin"; return; fi
  echo "setup-tools: building $name $version from $pkg (Go module proxy)..."
  local start=$SECONDS
  retry env GOBIN="$BIN" CGO_ENABLED="$cgo" GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "$pkg@$version"
  echo "$version" > "$BIN/.$name.stamp"
  echo "setup-tools: $name $version built in $((SECONDS - start))s -> .tools/bin/$name"
}

# Debian's chromium package, for the HTML report's test (headless, driven by playwright-core). From
# the distribution's archive, not pinned to a build: Debian's security updates replace the package
# and the archive keeps only the current one. The test needs any Chromium that renders SVG.
install_chromium() {
  if [[ -x /usr/bin/chromium ]]; then
    echo "setup-tools: Chromium already installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
    return
  fi
  command -v apt-get >/dev/null || { echo "setup-tools: Chromium is needed at /usr/bin/chromium (Debian's chromium package) and there is no apt-get here: install it" >&2; return 1; }
  local as=()
  if (( $(id -u) != 0 )); then
    command -v sudo >/dev/null || { echo "setup-tools: installing Debian's chromium package needs root (or sudo)" >&2; return 1; }
    as=(sudo -n)
  fi
  echo "setup-tools: installing Debian's chromium package (apt-get)..."
  local start=$SECONDS
  retry "${as[@]}" apt-get update -qq
  retry "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "setup-tools: $(/usr/bin/chromium --version 2>/dev/null | head -1) installed in $((SECONDS - start))s -> /usr/bin/chromium"
}

install_prometheus() {
  local module=github.com/prometheus/prometheus
  if fresh prometheus "$PROMETHEUS_VERSION" && fresh promtool "$PROMETHEUS_VERSION"; then
    echo "setup-tools: prometheus and promtool $PROMETHEUS_VERSION already in .tools/bin"
    return
  fi
  echo "setup-tools: building prometheus and promtool $PROMETHEUS_VERSION from $module (Go module proxy)..."
  local start=$SECONDS
  retry env GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" \
    "$module/cmd/prometheus@$PROMETHEUS_VERSION" "$module/cmd/promtool@$PROMETHEUS_VERSION"
  echo "$PROMETHEUS_VERSION" > "$BIN/.prometheus.stamp"
  echo "$PROMETHEUS_VERSION" > "$BIN/.promtool.stamp"
  echo "setup-tools: prometheus and promtool $PROMETHEUS_VERSION built in $((SECONDS - start))s -> .tools/bin"
}

# The providers of scripts/tools/providers.json, each built from its wrapper module into a filesystem
# mirror under both registry hosts (OpenTofu resolves hashicorp/* to registry.opentofu.org,
# Terraform to registry.terraform.io), and a CLI config that installs from that mirror only.
install_providers() {
  local mirror=$TOOLS/providers name
  for name in kubernetes helm; do
    local version; version=$(node -p "require('./scripts/tools/providers.json')['$name'].version")
    local stamp; stamp="$version $(module_hash "provider-$name")"
    local rel="hashicorp/$name/$version/$GOOS_ARCH" exe="terraform-provider-${name}_v$version"
    local built=$mirror/registry.opentofu.org/$rel/$exe
    if [[ -x $built ]] && [[ -x $mirror/registry.terraform.io/$rel/$exe ]] && [[ "$(cat "$mirror/.stamp-$name" 2>/dev/null)" == "$stamp" ]]; then
      echo "setup-tools: provider hashicorp/$name $version already in .tools/providers"
      continue
    fi
    echo "setup-tools: building provider hashicorp/$name $version from scripts/tools/provider-$name (Go module proxy)..."
    local start=$SECONDS module; module=$(node -p "require('./scripts/tools/providers.json')['$name'].module")
    mkdir -p "$mirror/registry.opentofu.org/$rel" "$mirror/registry.terraform.io/$rel"
    (cd "$ROOT/scripts/tools/provider-$name" && retry env CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$built" "$module")
    cp -f "$built" "$mirror/registry.terraform.io/$rel/$exe"
    echo "$stamp" > "$mirror/.stamp-$name"   # outside the package folder, which must hold the binary alone
    echo "setup-tools: provider hashicorp/$name $version built in $((SECONDS - start))s -> .tools/providers"
  done
  # Written every run: it holds this checkout's absolute path.
  cat > "$TOOLS/terraform.rc" <<EOF_RC
# Written by scripts/setup-tools.sh: providers come from the mirror it builds, and nowhere else.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/hashicorp/*", "registry.terraform.io/hashicorp/*"]
  }
}
EOF_RC
}

# Files shipped inside a pinned Go module (CRDs), copied to .tools/<dest> for scripts/cluster.sh.
install_module_files() {
  local dest=$TOOLS/$1 module=$2; shift 2
  if [[ "$(cat "$dest/.stamp" 2>/dev/null)" == "$module $*" ]]; then return; fi
  local dir; dir=$(cd "$TOOLS" && retry go mod download -json "$module" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  rm -rf "$dest"; mkdir -p "$dest"
  local f; for f in "$@"; do cp "$dir/$f" "$dest/"; done
  echo "$module $*" > "$dest/.stamp"
  echo "setup-tools: $# files from $module -> .tools/$(basename "$dest")"
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

# Triton Inference Server itself, from the PyPI wheel nvidia-pytriton (it carries tritonserver, its
# libraries and the Python backend), pinned by version and sha256. Laid out runnable in
# .tools/triton: the wheel unpacked, the Python backend stub for this Python copied beside
# libtriton_python.so, and venv-triton (numpy<2) for the stub's embedded interpreter.
# Either may be set from the environment to try another wheel.
TRITON_WHEEL=${TRITON_WHEEL:-nvidia-pytriton==0.7.0}
TRITON_WHEEL_SHA256=${TRITON_WHEEL_SHA256:-21f063ff93bb426d0c06b7a55e7eb9efcfe62c0dddd9a908e9877e18710128df}
install_triton() {
  local dir=$TOOLS/triton py; py=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  local stamp="$TRITON_WHEEL $TRITON_WHEEL_SHA256 $py"
  local server=$dir/pytriton/tritonserver/bin/tritonserver
  if [[ -x $server ]] && [[ "$(cat "$dir/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "setup-tools: Triton ($TRITON_WHEEL) already in $dir"
    return
  fi
  echo "setup-tools: installing Triton Inference Server from the wheel $TRITON_WHEEL (PyPI)..."
  local start=$SECONDS tmp; tmp=$(mktemp -d)
  printf '%s --hash=sha256:%s\n' "$TRITON_WHEEL" "$TRITON_WHEEL_SHA256" > "$tmp/req.txt"
  # A hash mismatch is final; anything else (the registry) is retried.
  local n=1 log=$tmp/pip.log
  until python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes -r "$tmp/req.txt" -d "$tmp/wheel" >"$log" 2>&1; do
    if grep -q "DO NOT MATCH THE HASHES" "$log"; then
      sed -n '/Expected sha256/,/Got/p' "$log" >&2; rm -rf "$tmp"
      echo "setup-tools: the wheel $TRITON_WHEEL from PyPI is not the pinned one (sha256 $TRITON_WHEEL_SHA256): check TRITON_WHEEL_SHA256 in scripts/setup-tools.sh, or clear pip's cache (pip cache remove nvidia_pytriton)" >&2
      return 1
    fi
    if (( n >= 4 )); then
      cat "$log" >&2; rm -rf "$tmp"
      echo "setup-tools: could not download the wheel $TRITON_WHEEL from PyPI after $n tries: check the registry, and the pin in scripts/setup-tools.sh" >&2
      return 1
    fi
    echo "setup-tools: try $n of the wheel download failed, retrying in $((5 * n))s" >&2
    sleep $((5 * n)); n=$((n + 1))
  done
  rm -rf "$dir"; mkdir -p "$dir"
  if ! python3 -m zipfile -e "$tmp"/wheel/*.whl "$dir"; then
    rm -rf "$tmp" "$dir"
    echo "setup-tools: the wheel $TRITON_WHEEL is broken (cannot unzip): delete it from pip's cache (pip cache remove nvidia_pytriton) and run again" >&2
    return 1
  fi
  rm -rf "$tmp"
  local stub=$dir/pytriton/tritonserver/python_backend_stubs/$py/triton_python_backend_stub
  local backend=$dir/pytriton/tritonserver/backends/python
  if [[ ! -f $server || ! -f $stub || ! -f $backend/libtriton_python.so ]]; then
    echo "setup-tools: the wheel $TRITON_WHEEL lacks tritonserver, libtriton_python.so or the Python $py backend stub: use a Python the wheel has a stub for (3.8 to 3.13) or change the pin" >&2
    return 1
  fi
  cp "$stub" "$backend/"
  chmod +x "$server" "$backend/triton_python_backend_stub"
  # A missing shared library shows here, not when a test starts the server.
  local missing; missing=$(LD_LIBRARY_PATH=$dir/nvidia_pytriton.libs ldd "$server" "$backend/libtriton_python.so" 2>&1 | grep 'not found' || true)
  if [[ -n $missing ]]; then
    echo "setup-tools: tritonserver from $TRITON_WHEEL cannot load its libraries ($(echo "$missing" | head -1 | xargs)): the wheel needs glibc 2.35 or newer" >&2
    return 1
  fi
  echo "$stamp" > "$dir/.stamp"
  echo "setup-tools: Triton ready in $((SECONDS - start))s -> $dir"
}

STEPS=("$@")
run_step() { if (( ${#STEPS[@]} == 0 )) || [[ " ${STEPS[*]} " == *" $1 "* ]]; then shift; "$@"; fi; }
for s in "${STEPS[@]}"; do
  case $s in helm|tofu|providers|kubernetes|kine|kwok|contour|prometheus|crds|venvs|triton|chromium) ;; *) echo "setup-tools: unknown step $s (helm tofu providers kubernetes kine kwok contour prometheus crds venvs triton chromium)" >&2; exit 2 ;; esac
done
run_step helm install_helm
run_step tofu install_tofu
run_step providers install_providers
run_step kubernetes install_kubernetes
run_step kine install_go_tool kine github.com/k3s-io/kine "$KINE_VERSION" 1   # cgo: SQLite
run_step kwok install_go_tool kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
# Contour: a real Gateway API implementation, run outside the cluster (`contour serve --kubeconfig`),
# serving xDS to a real Envoy on this machine (test/peers/contour.ts).
run_step contour install_go_tool contour github.com/projectcontour/contour/cmd/contour "$CONTOUR_VERSION"
# Prometheus and promtool in one go install (they share the module and its build): promtool for
# `promtool test rules` on the chart's PrometheusRule, the server for the promotion analysis tests.
run_step prometheus install_prometheus
# kwok's PortForward CRDs, so a test can point a fake pod's port at a real server and
# `kubectl port-forward` reaches it; its Logs CRD, so `kubectl logs` of a fake pod reads a real
# process's stdout (an Envoy's event log).
run_step crds install_module_files kwok-crds "sigs.k8s.io/kwok@$KWOK_VERSION" \
  kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml kustomize/crd/bases/kwok.x-k8s.io_clusterportforwards.yaml \
  kustomize/crd/bases/kwok.x-k8s.io_logs.yaml
# The Prometheus Operator's PrometheusRule and ServiceMonitor CRDs (what a cluster with the operator
# has), so the chart's monitoring objects and TritonAlerts' rules are checked by the API server
# against the real schema.
run_step crds install_module_files monitoring-crds "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
  example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
# Gateway API's standard CRDs (what a cluster with a Gateway has), so GatewayRoute's HTTPRoute is
# checked by the API server against the real schema and its CEL rules.
run_step crds install_module_files gateway-api-crds "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
  config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml config/crd/standard/gateway.networking.k8s.io_gateways.yaml \
  config/crd/standard/gateway.networking.k8s.io_httproutes.yaml config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml
# Contour's own CRDs (HTTPProxy and the rest): `contour serve` starts an informer on each.
run_step crds install_module_files contour-crds "github.com/projectcontour/contour@$CONTOUR_VERSION" examples/contour/01-crds.yaml
run_step venvs install_venv mlserver
run_step venvs install_venv kserve
run_step venvs install_venv envoy
run_step venvs install_venv triton
run_step triton install_triton
run_step chromium install_chromium
