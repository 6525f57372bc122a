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

# The npm packages of tests/interop (the TypeScript MCP SDK and server-everything as interop
# upstreams, the MCP conformance suite, gRPC for its adapter), at the versions package.json
# pins, from package-lock.json. Runs npm only when one is missing or at another version, so a
# second run needs no network.
interop_npm_ok() {
  (cd tests/interop && node -e '
    const deps = require("./package.json").dependencies;
    for (const [name, version] of Object.entries(deps)) {
      let installed;
      try { installed = require(`./node_modules/${name}/package.json`).version; } catch {}
      if (installed !== version) process.exit(1);
    }') 2>/dev/null
}
if ! interop_npm_ok; then
  echo "bootstrap: npm ci in tests/interop"
  (cd tests/interop && npm ci --no-audit --no-fund --silent)
  interop_npm_ok || { echo "bootstrap: tests/interop npm packages still missing"; exit 1; }
fi
echo "bootstrap: ok"
