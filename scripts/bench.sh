#!/usr/bin/env bash
# The benchmark suite in one command (a few minutes on 2 cores): builds with -c opt, starts
# Shadowcat, the upstreams (demo C++, TypeScript SDK in SSE and JSON modes, a C++ flood) and
# a minimal gRPC floor on loopback, and prints every figure beside its same-run baseline as
# a ratio; the resident memory per idle session, per session with a GET stream and per
# active CallStream at 1,000 and 10,000 sessions (the sizing in docs/operations.md); then the
# resume gap after an upstream drop (tests/bench/stream_figures.cc). Writes
# all figures as one JSON file (compare two runs with scripts/bench_compare.py).
#
#   scripts/bench.sh [OUT.json] [call_figures flags...]   # default OUT: bench-results.json
#   scripts/bench.sh quick.json --rounds=1 --calls=1000   # a faster, noisier look
#   scripts/bench.sh mem.json --figures=sessions,memory    # the memory figures alone
#
# Children's logs go to OUT.log. Figures: see tests/bench/call_figures.cc.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench-results.json}"
[[ $# -gt 0 ]] && shift
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
log="${out%.json}.log"
streams="$(mktemp --suffix=.json)"
trap 'rm -f "$streams"' EXIT
bazel build -c opt //tests/bench:call_figures //tests/bench:stream_figures
echo "== Shadowcat beside its baselines (medians of rounds; x = value / baseline)"
bazel-bin/tests/bench/call_figures --out="$out" "$@" 2>"$log"
bazel-bin/tests/bench/stream_figures "$streams" 2>>"$log"
python3 - "$out" "$streams" <<'PY'
import json, sys
out, extra = sys.argv[1], sys.argv[2]
doc = json.load(open(out))
doc["figures"] += json.load(open(extra))["figures"]
json.dump(doc, open(out, "w"), indent=1)
print(f"{len(doc['figures'])} figures in {out}")
PY
