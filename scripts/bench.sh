#!/usr/bin/env bash
# The benchmark suite in one command (a few minutes on 2 cores): builds with -c opt, starts
# Shadowcat, the upstreams (demo C++, TypeScript SDK in SSE and JSON modes, a C++ flood) and
# a minimal gRPC floor on loopback, and prints every figure beside its same-run baseline as
# a ratio. Writes the figures as JSON (compare two runs with scripts/bench_compare.py).
#
#   scripts/bench.sh [OUT.json] [call_figures flags...]   # default OUT: bench-results.json
#   scripts/bench.sh quick.json --rounds=1 --calls=1000   # a faster, noisier look
#
# Children's logs go to OUT.log. Figures: see tests/bench/call_figures.cc.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench-results.json}"
[[ $# -gt 0 ]] && shift
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
bazel build -c opt //tests/bench:call_figures
echo "== Shadowcat beside its baselines (medians of rounds; x = value / baseline)"
bazel-bin/tests/bench/call_figures --out="$out" "$@" 2>"${out%.json}.log"
