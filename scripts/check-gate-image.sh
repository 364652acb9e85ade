#!/usr/bin/env bash
# Performs the steps of docker/gate/Dockerfile on this machine, which has no container runtime:
# packs this package, installs it with the Dockerfile's own install.sh into a clean folder, puts
# kubectl beside it (the one scripts/setup-tools.sh built, of the version the Dockerfile
# downloads) and runs the image's entrypoint. `scripts/check-gate-image.sh <root>` leaves the
# image's files in <root> (app/ as the image's /app, bin/kubectl): the e2e's stand-in for the Job's
# pod runs the Job's arguments through that entrypoint (test/e2e/cluster-gate.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:?usage: scripts/check-gate-image.sh <root folder>}
dockerfile=docker/gate/Dockerfile
fail() { echo "check-gate-image: $*" >&2; exit 1; }

# This script and the Dockerfile must do the same thing: read what the Dockerfile says.
grep -qx 'RUN sh /usr/local/lib/cdktf-triton/install.sh /tmp/cdktf-triton.tgz /app && rm /tmp/cdktf-triton.tgz' "$dockerfile" ||
  fail "$dockerfile no longer installs the package with docker/gate/install.sh into /app: update this script with it"
entrypoint=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)"\]$/\1/p' "$dockerfile")
[[ $entrypoint == /app/node_modules/.bin/cdktf-triton ]] || fail "$dockerfile's ENTRYPOINT is '$entrypoint', not /app/node_modules/.bin/cdktf-triton"
kubectl_version=$(sed -n 's/^ARG KUBECTL_VERSION=//p' "$dockerfile")
tools_version=$(sed -n 's/^K8S_VERSION=\([^ ]*\).*/\1/p' scripts/setup-tools.sh)
[[ $kubectl_version == "$tools_version" ]] || fail "$dockerfile downloads kubectl $kubectl_version, the tests build $tools_version"
[[ -x .tools/bin/kubectl ]] || fail ".tools/bin/kubectl is missing: run scripts/setup-tools.sh (npm test does)"

rm -rf "$root"
mkdir -p "$root/bin"
pack=$(mktemp -d)
trap 'rm -rf "$pack"' EXIT
npm pack --pack-destination "$pack" --silent >/dev/null
sh docker/gate/install.sh "$pack"/cdktf-triton-*.tgz "$root/app"
cp .tools/bin/kubectl "$root/bin/kubectl"

# The entrypoint as the Job runs it: the package's version, verify's flags, and none of cdktf.
cli=$root/app/node_modules/.bin/cdktf-triton
version=$("$cli" --version)
[[ $version == "$(node -p 'require("./package.json").version')" ]] || fail "the entrypoint says version '$version'"
"$cli" verify --help >/dev/null || fail "the entrypoint's verify --help failed"
[[ ! -e $root/app/node_modules/cdktf ]] || fail "cdktf was installed into the image: the gate must not need it"
echo "check-gate-image: $root: cdktf-triton $version (entrypoint $entrypoint), kubectl $kubectl_version"
