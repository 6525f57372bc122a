#!/usr/bin/env bash
# Offline validation of deploy/: yamllint over the YAML, then deploy/check_manifests.py
# (kustomize rendering, cross-checked against kubectl/kustomize when installed; structural
# facts of the manifests; static checks of the Containerfile). See deploy/README.md.
# Run directly (scripts/check-deploy.sh) or through Bazel (bazel test //deploy:check_deploy).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Under Bazel the tree is a runfiles tree of symlinks; kustomize refuses files whose real path
# is outside the kustomization root, so check a real copy.
if [ -n "${TEST_TMPDIR:-}" ]; then
  copy="$TEST_TMPDIR/tree"
  rm -rf "$copy"
  mkdir -p "$copy/server" "$copy/core/metrics" "$copy/scripts"
  cp -rL "$root/deploy" "$copy/deploy"
  cp -L "$root/server/main.cc" "$copy/server/"
  cp -L "$root/core/metrics/shadowcat_metrics.cc" "$copy/core/metrics/"
  cp -L "$root/scripts/bootstrap.sh" "$copy/scripts/"
  root="$copy"
fi
cd "$root"

status=0
for tool in yamllint python3; do
  command -v "$tool" >/dev/null || { echo "check-deploy: $tool missing (scripts/bootstrap.sh installs it)"; exit 1; }
done
python3 -c 'import yaml' || { echo "check-deploy: python3-yaml missing"; exit 1; }

echo "check-deploy: yamllint deploy/"
if yamllint --strict -c deploy/.yamllint deploy/; then
  echo "check-deploy: yamllint ok"
else
  status=1
fi

echo "check-deploy: manifests and Containerfile"
python3 deploy/check_manifests.py "$root" || status=1

if [ "$status" -eq 0 ]; then echo "check-deploy: ok"; else echo "check-deploy: FAILED"; fi
exit "$status"
