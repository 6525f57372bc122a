#!/usr/bin/env bash
# Runs Bazel with clang-14 in a separate output base, so the gcc build's cache is kept.
#   scripts/clang-bazel.sh build --config=clang //core/... //server/...   # thread-safety analysis
#   scripts/clang-bazel.sh build --config=fuzz //tests/fuzz:sse_parser_fuzzer
#   scripts/fuzz.sh sse 600                                               # build + run a fuzzer
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=$1
shift
# One output base per checkout: Bazel ties an output base to one workspace.
key=$(pwd | md5sum | cut -c1-12)
rc=0
bazel --output_base="${SHADOWCAT_CLANG_OUTPUT_BASE:-$HOME/.cache/shadowcat-clang/$key}" \
  --max_idle_secs=300 "$cmd" --symlink_prefix=bazel-clang- "$@" || rc=$?
# The execroot link (bazel-clang-<folder>) points into the other output base,
# where the gcc build's `bazel test //...` would wander into Bazel's own
# packages; .bazelignore can only name it for one folder name. Nothing uses it
# (scripts/fuzz.sh uses bazel-clang-bin).
rm -f "bazel-clang-$(basename "$(pwd)")"
exit $rc
