#!/usr/bin/env bash
# Offline validation of deploy/: yamllint over the YAML, then deploy/check_manifests.py
# (kustomize rendering, cross-checked against kubectl/kustomize when installed; structural
# facts of the manifests; static checks of the Containerfile). See deploy/README.md.
# Run directly (scripts/check-deploy.sh) or through Bazel (bazel test //deploy:check_deploy,
# which runs this file from the checkout).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

status=0
# Debian's python3, where python3-yaml installs (not a pyenv or venv one earlier on PATH).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for tool in yamllint "$py"; do
  command -v "$tool" >/dev/null || { echo "check-deploy: $tool missing (scripts/bootstrap.sh installs it)"; exit 1; }
done
"$py" -c 'import yaml' || { echo "check-deploy: python3-yaml missing"; exit 1; }

echo "check-deploy: yamllint deploy/"
if yamllint --strict -c deploy/.yamllint deploy/; then
  echo "check-deploy: yamllint ok"
else
  status=1
fi

echo "check-deploy: manifests and Containerfile"
"$py" deploy/check_manifests.py "$root" || status=1

if [ "$status" -eq 0 ]; then echo "check-deploy: ok"; else echo "check-deploy: FAILED"; fi
exit "$status"
