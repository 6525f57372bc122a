#!/usr/bin/env python3
"""Offline structural checks of deploy/ (run by scripts/check-deploy.sh).

No Kubernetes API server and no schema files are needed. It renders each kustomization
with a small built-in renderer (the subset of kustomize that deploy/k8s uses: resources,
namespace, images, patches by path as strategic merges of maps) and, when `kubectl` or
`kustomize` is installed, checks that the real kustomize renders the same objects. Then it
checks the facts that matter for Shadowcat on the rendered objects and the Containerfile
(see deploy/README.md, "Validation").

Usage: check_manifests.py REPO_ROOT [--rendered-json=FILE]
Prints one line per failed fact and exits 1 when any failed. With --rendered-json, also
writes every rendering as {"<kustomization dir>": [objects]} for the schema validation
(deploy/schema/validate.mjs).
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROOT = os.path.abspath(ARGS[0] if ARGS else ".")
RENDERED_JSON = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--rendered-json=")), None)
errors = []
checks = 0


def check(ok, message):
    global checks
    checks += 1
    if not ok:
        errors.append(message)
    return ok


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


# --- Facts from the source tree -------------------------------------------------------

FLAGS = set(re.findall(r"ABSL_FLAG\(\s*[^,]+,\s*(\w+)\s*,", read("server/main.cc")))
METRICS_SOURCE = read("core/metrics/shadowcat_metrics.cc")
METRICS = set(re.findall(r'"(shadowcat_[a-z0-9_]+)"', METRICS_SOURCE))
BOOTSTRAP = read("scripts/bootstrap.sh")
BOOTSTRAP_APT = re.search(r"APT_PACKAGES=\(([^)]*)\)", BOOTSTRAP).group(1).split()
# Packages bootstrap.sh installs only for these checks, not for building Shadowcat.
CHECK_ONLY_PACKAGES = {"yamllint", "python3-yaml", "prometheus"}


def duration_seconds(text):
    """An absl::Duration flag value ("20s", "1m30s", "500ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def quantity_bytes(text):
    """A Kubernetes memory quantity ("256Mi", "1G", "134217728") in bytes."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|k|M|G)?", str(text))
    if not m:
        raise ValueError(f"not a memory quantity: {text!r}")
    scale = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 10**3, "M": 10**6, "G": 10**9}
    return int(m.group(1)) * scale[m.group(2)]


# Measured resident memory (docs/operations.md, "Sizing"; tests/bench/call_figures.cc):
# the -c opt process at rest, per session with a GET stream, per active CallStream.
SIZING_REST_BYTES = 22 * 10**6
SIZING_PER_SESSION_BYTES = 9 * 10**3
SIZING_PER_CONNECTION_BYTES = 26 * 10**3


# --- A small kustomize -----------------------------------------------------------------

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def merge(base, patch):
    """Strategic merge for maps; lists and scalars are replaced (enough for our patches)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def key(obj):
    return (obj.get("kind"), obj.get("metadata", {}).get("name"))


def render(directory):
    kfile = os.path.join(directory, "kustomization.yaml")
    k = load_docs(kfile)[0]
    unknown = set(k) - KUSTOMIZATION_KEYS
    if not check(not unknown, f"{kfile}: fields the offline renderer does not know: {sorted(unknown)}"):
        return []
    objects = []
    for res in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, res))
        objects += render(path) if os.path.isdir(path) else load_docs(path)
    for p in k.get("patches", []):
        if not check(set(p) == {"path"}, f"{kfile}: only `patches: - path:` is supported"):
            continue
        for patch in load_docs(os.path.join(directory, p["path"])):
            hits = [i for i, o in enumerate(objects) if key(o) == key(patch)]
            if check(len(hits) == 1, f"{kfile}: patch {p['path']} matches {len(hits)} objects"):
                objects[hits[0]] = merge(objects[hits[0]], patch)
    if "namespace" in k:
        for o in objects:
            o.setdefault("metadata", {})["namespace"] = k["namespace"]
    for image in k.get("images", []):
        for o in objects:
            spec = o.get("spec", {}).get("template", {}).get("spec", {})
            for c in spec.get("initContainers", []) + spec.get("containers", []):
                name, _, tag = c["image"].partition(":")
                if name == image["name"]:
                    c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    return objects


def canonical(objects):
    return sorted((yaml.safe_dump(o, sort_keys=True) for o in objects))


# --- Checks on rendered objects --------------------------------------------------------

EXPECTED_KINDS = {
    ("v1", "ConfigMap"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def by_kind(objects, kind):
    return [o for o in objects if o.get("kind") == kind]


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_container_security(where, c, pod_sc):
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem is not true")
    check(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation is not false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities.drop is not [ALL]")
    check(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot is not true")
    seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
    check(seccomp.get("type") == "RuntimeDefault", f"{where}: seccompProfile is not RuntimeDefault")
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    check(user is None or user != 0, f"{where}: runAsUser is 0")
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            check(r in res.get(kind, {}), f"{where}: resources.{kind}.{r} is not set")


def check_probe(where, probe, path, ports):
    if not check(probe is not None, f"{where} is missing"):
        return
    get = probe.get("httpGet")
    if probe.get("grpc"):
        check(False, f"{where}: grpc probes cannot reach the loopback-only gRPC listener")
        return
    if check(get is not None, f"{where}: not an httpGet probe"):
        check(get.get("path") == path, f"{where}: path is {get.get('path')}, expected {path}")
        check(get.get("port") in ports, f"{where}: port {get.get('port')} is not the admin port")


def check_rendered(name, objects):
    kinds = {(o.get("apiVersion"), o.get("kind")) for o in objects}
    check(kinds == EXPECTED_KINDS, f"{name}: kinds {sorted(kinds)} != {sorted(EXPECTED_KINDS)}")
    check(len({key(o) for o in objects}) == len(objects), f"{name}: duplicate kind/name")
    for o in objects:
        check(bool(o.get("metadata", {}).get("name")), f"{name}: a {o.get('kind')} has no name")
    if len(by_kind(objects, "Deployment")) != 1 or len(by_kind(objects, "ConfigMap")) != 1:
        check(False, f"{name}: expected one Deployment and one ConfigMap")
        return
    deploy = by_kind(objects, "Deployment")[0]
    config = by_kind(objects, "ConfigMap")[0]
    data = config.get("data", {})

    # ConfigMap: every key is the environment form of an existing flag.
    for k in data:
        flag = k[len("SHADOWCAT_"):].lower() if k.startswith("SHADOWCAT_") else None
        check(flag in FLAGS, f"{name}: ConfigMap key {k} is not SHADOWCAT_<flag> of a flag in server/main.cc")
    grpc_listen = data.get("SHADOWCAT_GRPC_LISTEN", "127.0.0.1:50051")
    check(grpc_listen.startswith("127.0.0.1:"), f"{name}: gRPC must stay on loopback, got {grpc_listen}")
    admin_listen = data.get("SHADOWCAT_ADMIN_LISTEN", "")
    check(admin_listen.startswith("0.0.0.0:"), f"{name}: SHADOWCAT_ADMIN_LISTEN must be 0.0.0.0:PORT for probes and scraping")
    admin_port = int(admin_listen.rpartition(":")[2] or 0)
    check(bool(data.get("SHADOWCAT_ALLOWED_UPSTREAMS", "").strip()),
          f"{name}: SHADOWCAT_ALLOWED_UPSTREAMS is empty (Shadowcat would serve only its demo upstream)")

    # Deployment.
    template = deploy["spec"]["template"]
    pod = template["spec"]
    pod_labels = template.get("metadata", {}).get("labels", {})
    check(labels_match(deploy["spec"]["selector"].get("matchLabels"), pod_labels),
          f"{name}: Deployment selector does not match its pod labels")
    pod_sc = pod.get("securityContext", {})
    check(pod_sc.get("runAsNonRoot") is True, f"{name}: pod securityContext.runAsNonRoot is not true")
    check(pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: pod seccompProfile is not RuntimeDefault")
    sidecars = [c for c in pod.get("initContainers", []) if c.get("name") == "shadowcat"]
    check(all(c.get("name") != "shadowcat" for c in pod.get("containers", [])),
          f"{name}: shadowcat must be a native sidecar (initContainers), not a regular container")
    if not check(len(sidecars) == 1, f"{name}: no initContainer named shadowcat"):
        return
    sc = sidecars[0]
    check(sc.get("restartPolicy") == "Always", f"{name}: shadowcat initContainer lacks restartPolicy: Always (native sidecar)")
    check(sc.get("securityContext", {}).get("runAsUser", pod_sc.get("runAsUser")) == 65532,
          f"{name}: shadowcat does not run as uid 65532")
    check(any(m.get("mountPath") == "/tmp" for m in sc.get("volumeMounts", [])),
          f"{name}: shadowcat has no writable /tmp mount")
    env_maps = [e.get("configMapRef", {}).get("name") for e in sc.get("envFrom", [])]
    check(config["metadata"]["name"] in env_maps, f"{name}: shadowcat does not load ConfigMap {config['metadata']['name']}")
    admin_ports = {p.get("name"): p.get("containerPort") for p in sc.get("ports", [])}
    check(admin_ports.get("admin") == admin_port,
          f"{name}: containerPort admin {admin_ports.get('admin')} != SHADOWCAT_ADMIN_LISTEN port {admin_port}")
    check(50051 not in admin_ports.values(), f"{name}: the loopback gRPC port must not be declared as a container port")
    ports = {"admin", admin_port}
    check_probe(f"{name}: shadowcat startupProbe", sc.get("startupProbe"), "/readyz", ports)
    check_probe(f"{name}: shadowcat livenessProbe", sc.get("livenessProbe"), "/healthz", ports)
    check_probe(f"{name}: shadowcat readinessProbe", sc.get("readinessProbe"), "/readyz", ports)
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        check_container_security(f"{name}: container {c.get('name')}", c, pod_sc)
    check(bool(pod.get("containers")), f"{name}: no app container")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    try:
        drain = duration_seconds(data.get("SHADOWCAT_DRAIN_GRACE", "20s"))
        close = duration_seconds(data.get("SHADOWCAT_CLOSE_TIMEOUT", "5s"))
        check(drain + close + 3 <= grace,
              f"{name}: drain_grace {drain}s + close_timeout {close}s + 3s exceeds terminationGracePeriodSeconds {grace}")
    except ValueError as e:
        check(False, f"{name}: {e}")
    # The memory limit covers every configured maximum at small messages (the flags'
    # defaults when the ConfigMap does not set them: 1000 sessions, 10000 connections).
    try:
        sessions = int(data.get("SHADOWCAT_MAX_SESSIONS", "1000"))
        connections = int(data.get("SHADOWCAT_MAX_CONNECTIONS_TOTAL", "10000"))
        need = (SIZING_REST_BYTES + sessions * SIZING_PER_SESSION_BYTES
                + connections * SIZING_PER_CONNECTION_BYTES)
        limit = quantity_bytes(sc.get("resources", {}).get("limits", {}).get("memory", "0"))
        check(limit >= need,
              f"{name}: shadowcat memory limit {limit / 2**20:.0f}Mi is below the measured need "
              f"{need / 2**20:.0f}Mi for {sessions} sessions and {connections} connections (docs/operations.md, Sizing)")
    except ValueError as e:
        check(False, f"{name}: {e}")

    # Service and ServiceMonitor.
    services = by_kind(objects, "Service")
    for svc in services:
        check(labels_match(svc["spec"].get("selector"), pod_labels), f"{name}: Service {svc['metadata']['name']} selects no pod")
        for p in svc["spec"].get("ports", []):
            check(p.get("targetPort") in ports, f"{name}: Service port {p.get('name')} does not target the admin port")
    for sm in by_kind(objects, "ServiceMonitor"):
        selected = [s for s in services
                    if labels_match(sm["spec"].get("selector", {}).get("matchLabels"), s["metadata"].get("labels", {}))]
        check(len(selected) == 1, f"{name}: ServiceMonitor selects {len(selected)} Services")
        svc_ports = {p.get("name") for s in selected for p in s["spec"].get("ports", [])}
        for ep in sm["spec"].get("endpoints", []):
            check(ep.get("port") in svc_ports, f"{name}: ServiceMonitor endpoint port {ep.get('port')} is not a Service port")
            check(ep.get("path") == "/metrics", f"{name}: ServiceMonitor path is not /metrics")

    # PrometheusRule: metrics and label values exist; the sessions alert divides by the exported limit.
    reasons = set(re.search(r"kNames\[\] = \{([^}]*)\}", METRICS_SOURCE, re.S).group(1).replace('"', "").replace(",", " ").split())
    outcomes = set(re.findall(r'return "([a-z_]+)";', METRICS_SOURCE))
    for rule_obj in by_kind(objects, "PrometheusRule"):
        for group in rule_obj["spec"]["groups"]:
            for rule in group["rules"]:
                alert = rule.get("alert", "?")
                expr = rule.get("expr", "")
                check(bool(rule.get("labels", {}).get("severity")), f"{name}: alert {alert} has no severity")
                check(bool(rule.get("annotations", {}).get("summary")), f"{name}: alert {alert} has no summary")
                for metric in re.findall(r"\b(shadowcat_[a-z0-9_]+)", expr):
                    check(metric in METRICS, f"{name}: alert {alert} uses unknown metric {metric}")
                for label, values in re.findall(r'(reason|outcome)\s*[!=]~?\s*"([^"]*)"', expr):
                    known = reasons if label == "reason" else outcomes
                    for v in values.split("|"):
                        check(v in known, f"{name}: alert {alert}: {label} value {v!r} is never emitted")
                if "shadowcat_sessions_active" in expr:
                    # A number copied from the config drifts; the exported limit does not.
                    check("shadowcat_sessions_max" in expr,
                          f"{name}: alert {alert}: divide by shadowcat_sessions_max, not a copied --max_sessions")


# --- The Containerfile -----------------------------------------------------------------

def check_containerfile(path):
    text = read(path)
    lines = [l for l in re.sub(r"\\\n", " ", text).splitlines() if l.strip() and not l.lstrip().startswith("#")]
    froms = [l.split()[1] for l in lines if l.split()[0].upper() == "FROM"]
    check(len(froms) >= 2, f"{path}: not multi-stage")
    for image in froms:
        check(re.fullmatch(r"debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?", image) is not None,
              f"{path}: FROM {image} is not pinned to debian:bookworm or debian:bookworm-slim")
    check(froms and froms[-1].startswith("debian:bookworm-slim"), f"{path}: the runtime stage is not bookworm-slim")
    last_stage = text[text.rfind("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", last_stage, re.M)
    check(bool(users) and users[-1].split(":")[0] not in ("root", "0"), f"{path}: runtime stage has no non-root USER")
    check(bool(users) and users[-1].split(":")[0] == "65532", f"{path}: runtime USER is not 65532")
    check(not re.search(r"^ADD\s+(--\S+\s+)*(https?|ftp)://", text, re.M | re.I), f"{path}: ADD from a URL")
    check(not re.search(r"\b(curl|wget)\b[^\n]*\|\s*(ba)?sh", text), f"{path}: pipes a download into a shell")
    exposed = " ".join(re.findall(r"^EXPOSE\s+(.*)$", last_stage, re.M)).split()
    check({"50051", "9090"} <= {p.split("/")[0] for p in exposed}, f"{path}: EXPOSE lacks 50051 or 9090")
    check(re.search(r"^HEALTHCHECK\s", last_stage, re.M) is not None, f"{path}: no HEALTHCHECK")
    check(re.search(r'^ENTRYPOINT\s+\[', last_stage, re.M) is not None, f"{path}: ENTRYPOINT is not in exec form")
    check("0.0.0.0" not in "\n".join(l for l in lines if not l.startswith("HEALTHCHECK")),
          f"{path}: the image must not bind 0.0.0.0 by itself (the manifests do)")
    build_stage = text[: text.rfind("\nFROM ")]
    for pkg in BOOTSTRAP_APT:
        if pkg not in CHECK_ONLY_PACKAGES:
            check(re.search(rf"(?<![\w.+-]){re.escape(pkg)}(?![\w.+-])", build_stage) is not None,
                  f"{path}: build stage does not install {pkg} (scripts/bootstrap.sh's APT_PACKAGES)")
    check("bazel build -c opt //server:shadowcat" in build_stage, f"{path}: build stage does not build //server:shadowcat with -c opt")


# --- Main ------------------------------------------------------------------------------

def real_kustomize(directory):
    for cmd in (["kustomize", "build"], ["kubectl", "kustomize"]):
        if shutil.which(cmd[0]):
            out = subprocess.run(cmd + [directory], capture_output=True, text=True)
            if out.returncode == 0:
                return " ".join(cmd), [d for d in yaml.safe_load_all(out.stdout) if d is not None]
            return " ".join(cmd), out.stderr
    return None, None


def main():
    check(bool(FLAGS) and bool(METRICS), "could not read flags or metric names from the source")
    for d in ("deploy/k8s/base", "deploy/k8s/overlays/example"):
        objects = render(os.path.join(ROOT, d))
        check_rendered(d, objects)
        tool, real = real_kustomize(os.path.join(ROOT, d))
        if tool is None:
            print(f"check_manifests: no kustomize or kubectl installed: {d} rendered by the built-in subset only")
        elif check(isinstance(real, list), f"{d}: `{tool}` failed: {real}"):
            check(canonical(real) == canonical(objects), f"{d}: `{tool}` renders other objects than the built-in renderer")
            print(f"check_manifests: {d}: `{tool}` agrees with the built-in renderer")
    # The overlay must really change the upstreams.
    base_cm = by_kind(render(os.path.join(ROOT, "deploy/k8s/base")), "ConfigMap")[0]["data"]
    over_cm = by_kind(render(os.path.join(ROOT, "deploy/k8s/overlays/example")), "ConfigMap")[0]["data"]
    check(base_cm.get("SHADOWCAT_ALLOWED_UPSTREAMS") != over_cm.get("SHADOWCAT_ALLOWED_UPSTREAMS"),
          "overlays/example does not change SHADOWCAT_ALLOWED_UPSTREAMS")
    check_containerfile("deploy/Containerfile")
    if RENDERED_JSON:
        with open(RENDERED_JSON, "w", encoding="utf-8") as f:
            json.dump({d: render(os.path.join(ROOT, d)) for d in ("deploy/k8s/base", "deploy/k8s/overlays/example")}, f)
    for e in errors:
        print(f"FAIL: {e}")
    print(f"check_manifests: {checks - len(errors)} of {checks} checks passed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
