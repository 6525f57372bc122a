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

# Adds the test cases of the last `bazel test` run to the totals: the cases in its
# test.xml files, plus one failure for each target Bazel reported as failed without a
# failing case in its XML (a crash, a sanitizer report at exit, a timeout, a build error).
count_results() {
  local log=$1 counts
  counts=$(python3 - "$ROOT/bazel-testlogs" "$log" <<'PY'
import os, re, sys, xml.etree.ElementTree as ET
root, log = sys.argv[1], sys.argv[2]
passed = failed = 0
failing_xml = set()
for d, _, files in os.walk(root, followlinks=True):
    if "test.xml" not in files:
        continue
    rel = os.path.relpath(d, root)
    try:
        cases = list(ET.parse(os.path.join(d, "test.xml")).getroot().iter("testcase"))
    except ET.ParseError:
        cases = []
    for c in cases:
        if c.find("failure") is not None or c.find("error") is not None:
            failed += 1
            failing_xml.add(rel)
        elif c.get("status", "run") != "notrun" and c.find("skipped") is None:
            passed += 1
bad = re.compile(r"^(//\S+)\s+(?:\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE)")
for line in open(log, errors="replace"):
    m = bad.match(line)
    if m:
        label = m.group(1)[2:].replace(":", "/")
        if label not in failing_xml:
            failed += 1
print(passed, failed)
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
  local log
  log=$(mktemp)
  bazel test "$@" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  count_results "$log"
  rm -f "$log"
}

# Layering (style.md section 2): core/ is a library with no gRPC or protobuf
# in it; the generated API is server/'s alone. One query, counted as a check.
echo "=== layering: core/ depends on no gRPC or protobuf"
if layering=$(bazel query --noshow_progress \
    'somepath(//core/..., set("@system//:grpc++" @system//:protobuf //proto/...))' \
    2>/dev/null) && [ -z "$layering" ]; then
  passed=$((passed + 1))
else
  echo "core/ reaches gRPC or protobuf (or the query failed): $layering"
  failed=$((failed + 1))
  status=1
fi

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
