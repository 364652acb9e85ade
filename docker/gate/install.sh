#!/bin/sh
# The verifier's runtime from the packed package: `install.sh <cdktf-triton-*.tgz> <app dir>`.
# The Dockerfile runs it into /app; scripts/check-gate-image.sh runs it into a clean folder on this
# machine, so the image's install is the one the tests run. Only the package and its own
# dependencies: cdktf and the providers (peer dependencies) are left out, the gate never loads them.
set -eu
tarball=$1
app=$2
mkdir -p "$app"
cd "$app"
printf '{ "name": "cdktf-triton-gate", "version": "0.0.0", "private": true }\n' > package.json
npm install --omit=dev --omit=peer --no-audit --no-fund --no-package-lock --loglevel=error "$tarball"
