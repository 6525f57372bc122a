#!/usr/bin/env bash
# Builds deploy/Containerfile on a machine that reaches Debian's archive but no container
# registry, then starts the image and probes it (deploy/README.md, "Building the image on
# this project's machines"). Root only. Not part of scripts/test.sh: see docs/operations.md,
# "The container image and CI", for why.
#
#   scripts/build-image.sh [TAG]        # default TAG: shadowcat:dev
#
# 1. Base images: debian:bookworm and debian:bookworm-slim are made from Debian packages with
#    mmdebstrap and imported into Podman's storage under the names the FROM lines use, unless
#    they are there already (SHADOWCAT_REBUILD_BASES=1 makes them again).
# 2. podman build --pull=never --isolation=chroot (crun cannot start containers on these
#    machines; buildah's chroot isolation runs RUN steps without an OCI runtime).
# 3. The image's binary runs from the image's root filesystem (buildah run, chroot isolation,
#    host network) as uid 65532, with the environment the manifests use; the image's own
#    HEALTHCHECK command must pass against it (it probes 127.0.0.1:9090, which must be
#    free), /metrics must answer, and SIGTERM must drain it to exit code 0.
# Prints the time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-shadowcat:dev}"
mirror="http://deb.debian.org/debian"

[ "$(id -u)" -eq 0 ] || { echo "build-image: run as root"; exit 1; }
need=()
for tool in mmdebstrap podman buildah crun fuse-overlayfs newuidmap curl; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if ((${#need[@]})); then
  echo "build-image: installing mmdebstrap podman buildah crun fuse-overlayfs uidmap curl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends mmdebstrap podman buildah crun \
    fuse-overlayfs uidmap curl
fi

phase_start=$SECONDS
phase() {
  echo "build-image: $1 took $((SECONDS - phase_start)) s"
  phase_start=$SECONDS
}

work="$(mktemp -d)"
container=""
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$container" ] && buildah rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. Base images ------------------------------------------------------------------------
make_base() {  # NAME [mmdebstrap options...]
  local name=$1
  shift
  if [ -z "${SHADOWCAT_REBUILD_BASES:-}" ] && podman image exists "$name"; then
    echo "build-image: $name already in Podman's storage"
    return
  fi
  mmdebstrap --variant=minbase "$@" bookworm "$work/base.tar" "$mirror"
  podman import "$work/base.tar" "$name" >/dev/null
  rm -f "$work/base.tar"
}
# The official slim image is minbase without docs, man pages and locales.
make_base docker.io/library/debian:bookworm-slim \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
make_base docker.io/library/debian:bookworm
phase "base images"

# --- 2. The image ----------------------------------------------------------------------------
podman build --pull=never --isolation=chroot --format docker -f deploy/Containerfile \
  --ignorefile deploy/Containerfile.dockerignore -t "$tag" .
phase "podman build"

# --- 3. Start it and probe it ----------------------------------------------------------------
config="$(podman image inspect "$tag" --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck.Test}}')"
echo "build-image: user|entrypoint|healthcheck = $config"
[ "${config%%|*}" = "65532:65532" ] || { echo "build-image: image user is not 65532:65532"; exit 1; }
if (exec 3<>/dev/tcp/127.0.0.1/9090) 2>/dev/null; then
  echo "build-image: 127.0.0.1:9090 is in use; the HEALTHCHECK needs it"
  exit 1
fi
container="$(buildah from --pull-never "$tag")"
# The manifests' environment, with the demo upstream instead of real ones, gRPC and the demo
# on free ports (the HEALTHCHECK fixes the admin port at 9090).
buildah run --isolation chroot --user 65532:65532 \
  --env SHADOWCAT_ADMIN_LISTEN=127.0.0.1:9090 --env SHADOWCAT_GRPC_LISTEN=127.0.0.1:0 \
  --env SHADOWCAT_DEMO_UPSTREAM=true --env SHADOWCAT_DEMO_PORT=0 \
  "$container" -- /usr/local/bin/shadowcat >"$work/shadowcat.log" 2>&1 &
pid=$!
# The image's own HEALTHCHECK command (["CMD", "/bin/bash", "-c", "..."]), run inside it.
mapfile -t check < <(podman image inspect "$tag" \
  --format '{{range $i, $a := .Config.Healthcheck.Test}}{{if $i}}{{$a}}{{"\n"}}{{end}}{{end}}')
healthy=""
for _ in $(seq 1 100); do
  if buildah run --isolation chroot --user 65532:65532 "$container" -- "${check[@]}" \
      2>/dev/null; then
    healthy=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$healthy" ] || { echo "build-image: HEALTHCHECK never passed"; cat "$work/shadowcat.log"; exit 1; }
echo "build-image: HEALTHCHECK passed"
curl -fsS http://127.0.0.1:9090/metrics | grep -q '^shadowcat_sessions_max ' ||
  { echo "build-image: /metrics lacks shadowcat_sessions_max"; exit 1; }
# buildah run forwards SIGTERM to the process in the chroot.
binary_pid="$(pgrep -u 65532 -f '^/usr/local/bin/shadowcat$' | head -n1)"
[ -n "$binary_pid" ] || { echo "build-image: shadowcat process not found"; exit 1; }
kill -TERM "$binary_pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] || { echo "build-image: exit code $rc after SIGTERM"; cat "$work/shadowcat.log"; exit 1; }
phase "start, HEALTHCHECK, /metrics, drain"
echo "build-image: ok ($tag, $(podman image inspect "$tag" --format '{{.Size}}') bytes)"
