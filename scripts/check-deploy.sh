#!/usr/bin/env bash
# Offline validation of deploy/: yamllint over the YAML, then deploy/check_manifests.py
# (kustomize rendering, cross-checked against kubectl/kustomize when installed; structural
# facts of the manifests; static checks of the Containerfile), then every rendered object
# against the Kubernetes and Prometheus Operator schemas (deploy/schema/validate.mjs, npm
# packages pinned in deploy/schema/package-lock.json), then the alert rules' PromQL with
# promtool. See deploy/README.md.
# Run directly (scripts/check-deploy.sh) or through Bazel (bazel test //deploy:check_deploy,
# which runs this file from the checkout).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

status=0
# Debian's python3, where python3-yaml installs (not a pyenv or venv one earlier on PATH).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for tool in yamllint "$py" node promtool; do
  command -v "$tool" >/dev/null || { echo "check-deploy: $tool missing (scripts/bootstrap.sh installs it)"; exit 1; }
done
"$py" -c 'import yaml' || { echo "check-deploy: python3-yaml missing"; exit 1; }
[ -d deploy/schema/node_modules/kubernetes-models ] ||
  { echo "check-deploy: deploy/schema's npm packages missing (scripts/bootstrap.sh installs them)"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "check-deploy: yamllint deploy/"
if yamllint --strict -c deploy/.yamllint deploy/; then
  echo "check-deploy: yamllint ok"
else
  status=1
fi

echo "check-deploy: manifests and Containerfile"
"$py" deploy/check_manifests.py "$root" --rendered-json="$work/rendered.json" || status=1

echo "check-deploy: schemas (Kubernetes, Prometheus Operator)"
node deploy/schema/validate.mjs "$work/rendered.json" || status=1

# The PrometheusRule's groups are a Prometheus rules file: promtool parses every PromQL
# expression and checks the rule fields.
echo "check-deploy: promtool check rules"
"$py" - "$work/rendered.json" "$work" <<'PY' || status=1
import json, sys, yaml
rendered, out = json.load(open(sys.argv[1])), sys.argv[2]
rules = [o for objs in rendered.values() for o in objs if o["kind"] == "PrometheusRule"]
if not rules:
    sys.exit("no PrometheusRule rendered")
for i, rule in enumerate(rules):
    with open(f"{out}/rules{i}.yaml", "w") as f:
        yaml.safe_dump({"groups": rule["spec"]["groups"]}, f)
PY
for f in "$work"/rules*.yaml; do
  promtool check rules "$f" || status=1
done

if [ "$status" -eq 0 ]; then echo "check-deploy: ok"; else echo "check-deploy: FAILED"; fi
exit "$status"
