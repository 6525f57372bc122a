#!/usr/bin/env bash
# Installs every system and npm dependency Shadowcat needs on a fresh Debian bookworm
# machine. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# yamllint and python3-yaml check deploy/; prometheus brings the server and
# promtool for tests/ops (a real scrape, the exposition linter).
APT_PACKAGES=(
  bazel-bootstrap
  build-essential pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev libssl-dev
  zlib1g-dev libbrotli-dev
  libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev
  clang-14 libclang-rt-14-dev
  yamllint python3-yaml prometheus
)
# Node.js may come from elsewhere (with its own npm); only install Debian's when absent.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages at the versions package.json pins, from package-lock.json: tests/interop's (the
# TypeScript MCP SDK and server-everything as interop upstreams, the MCP conformance suite,
# gRPC for its adapter) and deploy/schema's (the Kubernetes and Prometheus Operator schemas
# and TypeScript, for scripts/check-deploy.sh). Runs npm only when one is missing or at another
# version, so a second run needs no network.
npm_pins_ok() {  # DIR
  (cd "$1" && node -e '
    const pkg = require("./package.json");
    const deps = {...pkg.dependencies, ...pkg.devDependencies};
    for (const [name, version] of Object.entries(deps)) {
      let installed;
      try { installed = require(`./node_modules/${name}/package.json`).version; } catch {}
      if (installed !== version) process.exit(1);
    }') 2>/dev/null
}
for dir in tests/interop deploy/schema; do
  if ! npm_pins_ok "$dir"; then
    echo "bootstrap: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    npm_pins_ok "$dir" || { echo "bootstrap: $dir npm packages still missing"; exit 1; }
  fi
done
echo "bootstrap: ok"
