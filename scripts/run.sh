#!/usr/bin/env bash
# Builds and runs Shadowcat. With no arguments it serves the built-in demo MCP upstream on
# 127.0.0.1:8931 and prints how to call it; any arguments are passed to `shadowcat`
# (see README.md for the flags).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bazel build -c opt //server:shadowcat //server:shadowcat-cli
exec bazel-bin/server/shadowcat "$@"
