#!/usr/bin/env bash
# Installs every system and npm dependency Shadowcat needs on a fresh Debian bookworm
# machine. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  bazel-bootstrap
  build-essential pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev libssl-dev
  libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev
  clang-14 libclang-rt-14-dev
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

# The official TypeScript MCP SDK, used as the interop upstream in tests/interop.
if [ ! -d tests/interop/node_modules/@modelcontextprotocol/sdk ]; then
  echo "bootstrap: npm install in tests/interop"
  (cd tests/interop && npm install --no-audit --no-fund --silent)
fi
echo "bootstrap: ok"
