#!/usr/bin/env bash
# Runs Shadowcat's whole test suite: installs what is missing (scripts/bootstrap.sh), then
# every test under Bazel (unit, integration, interop with the official TypeScript MCP SDK,
# fault tests, fuzz corpus replays), then the suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer and under ThreadSanitizer, and clang's thread-safety analysis.
# Ends with one line "N passed, N failed" counted from the test cases Bazel ran.
#
#   scripts/test.sh            # everything
#   SHADOWCAT_QUICK=1 scripts/test.sh   # skip the sanitizer passes
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
status=0

# Adds the test cases of the last `bazel test` run (its test.xml files) to the totals.
count_results() {
  local counts
  counts=$(python3 - "$ROOT/bazel-testlogs" <<'PY'
import os, sys, xml.etree.ElementTree as ET
root = sys.argv[1]
p = f = 0
for d, _, files in os.walk(root, followlinks=True):
    if "test.xml" not in files:
        continue
    try:
        t = ET.parse(os.path.join(d, "test.xml")).getroot()
    except ET.ParseError:
        f += 1
        continue
    cases = t.iter("testcase")
    n = 0
    for c in cases:
        n += 1
        if c.find("failure") is not None or c.find("error") is not None:
            f += 1
        elif c.get("status", "run") != "notrun" and c.find("skipped") is None:
            p += 1
    if n == 0:  # a target that died before writing cases still counts once
        errs = int(t.get("errors", "0") or 0) + int(t.get("failures", "0") or 0)
        if errs: f += 1
print(p, f)
PY
)
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
}

run() {
  local label=$1
  shift
  echo "=== $label: bazel test $*"
  rm -rf "$ROOT"/bazel-testlogs/ 2>/dev/null || true
  bazel test "$@" --test_env=SHADOWCAT_INTEROP_DIR="$ROOT/tests/interop" || status=1
  count_results
}

run "default" //...
if [ -z "${SHADOWCAT_QUICK:-}" ]; then
  run "asan+ubsan" --config=asan //tests/...
  run "tsan" --config=tsan //tests/...
  # clang's thread-safety analysis (-Werror=thread-safety) over the product code:
  # a build, counted as one check.
  echo "=== clang thread-safety analysis"
  if bash scripts/clang-bazel.sh build --config=clang //core/... //server/...; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    status=1
  fi
fi

echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then status=1; fi
exit $status
