#!/usr/bin/env bash
# Builds one libFuzzer target with clang and runs it on a copy of its seed corpus.
#   scripts/fuzz.sh sse|json|content [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
seconds=${2:-60}
case "$name" in
  sse) target=sse_parser_fuzzer ;;
  json) target=json_scan_fuzzer ;;
  content) target=content_decoder_fuzzer ;;
  *) echo "usage: scripts/fuzz.sh sse|json|content [SECONDS]" >&2; exit 2 ;;
esac
bash scripts/clang-bazel.sh build --config=fuzz "//tests/fuzz:$target"
work=$(mktemp -d)
cp -r "tests/fuzz/corpus/$name/." "$work/"
"bazel-clang-bin/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 "$work"
