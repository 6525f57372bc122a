#!/usr/bin/env bash
# Bazel entry point of scripts/check-deploy.sh. scripts/ is not a Bazel package and the root
# BUILD.bazel exports nothing, so this wrapper (a symlink into the source tree, the test being
# tagged "local") finds the checkout and runs the script from there. Tagged "external" too, so
# Bazel never serves a cached result for files it does not track.
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
exec "$here/../scripts/check-deploy.sh"
