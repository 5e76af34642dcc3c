#!/usr/bin/env bash
# Idempotent machine setup shared by the README's two commands (scripts/site.sh
# and scripts/test.sh): apt packages, a running Docker daemon, the locally
# built systemd base images and the project's virtualenv. A second run only
# checks and returns. Source it or run it; it needs root (or sudo).
set -euo pipefail

SMOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SMOPS_STATE="${SMOPS_STATE:-$SMOPS_ROOT/.state}"
SMOPS_VENV="${SMOPS_VENV:-$SMOPS_ROOT/.venv}"
SMOPS_APT_PACKAGES=(docker.io debootstrap age python3 python3-venv git curl ca-certificates openssh-client
                    debian-archive-keyring gnupg postgresql postgresql-client jq time)
# The Ubuntu archive keyring (trust root for the Ubuntu 24.04 image); pinned by hash.
SMOPS_UBUNTU_KEYRING_DEB="pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb"
SMOPS_UBUNTU_KEYRING_SHA256="36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8"
SMOPS_DEBIAN_MIRROR="${SMOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SMOPS_UBUNTU_MIRROR="${SMOPS_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

smops_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "run as root (or install sudo): this installs apt packages and starts dockerd"
    exec sudo -E "$0" "$@"
  fi
}

smops_apt() {
  local missing=()
  for p in "${SMOPS_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing apt packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Run a command in the background for longer than this script, in its own session, without any
# descriptor of ours but 0-2: a daemon that inherited the caller's lock (`flock
# /work/.molecule.lock scripts/test.sh ...` keeps it on fd 3) would hold that lock for as long as
# it runs, and every other run waiting for it would wait forever.
smops_detached() {
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid nohup "$@"
  ) &
}

smops_dockerd() {
  docker info >/dev/null 2>&1 && return 0
  if [ -d /run/systemd/system ]; then
    log "starting docker.service"
    systemctl start docker
  else
    # No systemd as PID 1 (CI VMs, containers): run the daemon ourselves.
    log "starting dockerd (no systemd here); log in $SMOPS_STATE/dockerd.log"
    mkdir -p "$SMOPS_STATE"
    smops_detached /usr/sbin/dockerd >"$SMOPS_STATE/dockerd.log" 2>&1 </dev/null
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "dockerd did not become ready in 60 s; see $SMOPS_STATE/dockerd.log"
}

# $1 distro name (debian12|ubuntu2404): debootstrap a minbase rootfs and import it.
smops_rootfs_image() {
  local name=$1 image="supermark-ops/rootfs:$1" suite mirror keyring_opt=() rootfs
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  case "$name" in
    debian12) suite=bookworm; mirror=$SMOPS_DEBIAN_MIRROR ;;
    ubuntu2404)
      suite=noble; mirror=$SMOPS_UBUNTU_MIRROR
      # Debian's debootstrap has no 'noble' script; noble bootstraps like gutsy.
      [ -e /usr/share/debootstrap/scripts/noble ] || ln -s gutsy /usr/share/debootstrap/scripts/noble
      keyring_opt=(--keyring="$(smops_ubuntu_keyring)") ;;
    *) die "unknown image $name" ;;
  esac
  rootfs="$SMOPS_STATE/rootfs-$name"
  rm -rf "$rootfs"
  log "debootstrap $suite into $rootfs (about a minute)"
  debootstrap --variant=minbase "${keyring_opt[@]}" \
    --include=python3,systemd,systemd-sysv,sudo,ca-certificates,gnupg,curl,iproute2,procps \
    "$suite" "$rootfs" "$mirror" >"$SMOPS_STATE/debootstrap-$name.log" 2>&1 \
    || die "debootstrap $suite failed; see $SMOPS_STATE/debootstrap-$name.log"
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
  rm -rf "$rootfs"
}

smops_ubuntu_keyring() {
  local dir="$SMOPS_STATE/ubuntu-keyring" deb
  if [ -f /usr/share/keyrings/ubuntu-archive-keyring.gpg ]; then
    echo /usr/share/keyrings/ubuntu-archive-keyring.gpg; return 0
  fi
  if [ ! -f "$dir/usr/share/keyrings/ubuntu-archive-keyring.gpg" ]; then
    mkdir -p "$dir"; deb="$dir/keyring.deb"
    curl -fsSL -o "$deb" "$SMOPS_UBUNTU_MIRROR/$SMOPS_UBUNTU_KEYRING_DEB" \
      || die "could not fetch the Ubuntu keyring from $SMOPS_UBUNTU_MIRROR"
    echo "$SMOPS_UBUNTU_KEYRING_SHA256  $deb" | sha256sum -c --quiet - \
      || die "the Ubuntu keyring package does not match its pinned sha256"
    dpkg-deb -x "$deb" "$dir"
  fi
  echo "$dir/usr/share/keyrings/ubuntu-archive-keyring.gpg"
}

# The systemd test-host image on top of a rootfs; rebuilt when images/systemd changes.
smops_systemd_image() {
  local name=$1 image="supermark-ops/systemd:$1" ctx recipe
  recipe=$(cd "$SMOPS_ROOT/images/systemd" && { find . -name __pycache__ -prune -o -type f -print0 | sort -z | xargs -0 cat;
           cat /usr/local/share/ca-certificates/*.crt 2>/dev/null; } | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.supermark-ops.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  ctx=$(mktemp -d)
  cp -r "$SMOPS_ROOT/images/systemd/." "$ctx/"
  mkdir -p "$ctx/extra-ca"
  # HTTPS may pass an intercepting proxy trusted through extra CAs: hand them to
  # the image so pip/npm inside test hosts work. Nothing is copied where there are none.
  cp /usr/local/share/ca-certificates/*.crt "$ctx/extra-ca/" 2>/dev/null || true
  log "building $image"
  docker build -q --build-arg BASE="supermark-ops/rootfs:$name" --build-arg DISTRO="$name" \
    --label "org.supermark-ops.recipe=$recipe" -t "$image" "$ctx" >/dev/null \
    || { rm -rf "$ctx"; die "docker build of $image failed"; }
  rm -rf "$ctx"
}

# A stand-in image (images/standins/<name>, see its README) on the Ubuntu 24.04
# rootfs; rebuilt when its folder changes. They run inside the test host.
smops_standin_image() {
  local name=$1 image="supermark-ops/standin-$1:1" dir="$SMOPS_ROOT/images/standins/$1" ctx recipe
  recipe=$(cd "$dir" && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.supermark-ops.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  ctx=$(mktemp -d)
  cp -r "$dir/." "$ctx/"
  cp "$SMOPS_ROOT/images/systemd/sources/ubuntu2404.sources" "$ctx/ubuntu.sources"
  log "building $image"
  docker build -q --build-arg BASE="supermark-ops/rootfs:ubuntu2404" \
    --label "org.supermark-ops.recipe=$recipe" -t "$image" "$ctx" >/dev/null \
    || { rm -rf "$ctx"; die "docker build of $image failed"; }
  rm -rf "$ctx"
}

smops_images() {
  # The two debootstraps wait mostly on the archives: side by side.
  local pids=() pid
  for name in ubuntu2404 debian12; do
    smops_rootfs_image "$name" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || die "a test-host image failed (see the messages above)"; done
  for name in ubuntu2404 debian12; do
    smops_systemd_image "$name"
  done
  for name in postgres s3 pebble proxy app-base saas gotenberg; do
    smops_standin_image "$name"
  done
}

# The Docker CLI's buildx plugin (BuildKit), which the app's build needs on the
# control machine too (supermark_build_host: control). Debian 12 has no
# package for it: take Ubuntu 24.04's docker-buildx (a static binary), fetched
# by apt inside the Ubuntu test-host image, so apt checks its signature.
smops_buildx() {
  local dir=/usr/local/lib/docker/cli-plugins tmp
  docker buildx version >/dev/null 2>&1 && return 0
  log "installing the docker buildx plugin (Ubuntu 24.04's docker-buildx package)"
  tmp=$(mktemp -d)
  docker run --rm -v "$tmp:/out" supermark-ops/systemd:ubuntu2404 \
    sh -c 'apt-get update -qq && cd /out && apt-get download -qq docker-buildx' >"$SMOPS_STATE/buildx.log" 2>&1 \
    || { rm -rf "$tmp"; die "could not fetch docker-buildx; see $SMOPS_STATE/buildx.log"; }
  dpkg-deb -x "$tmp"/docker-buildx_*.deb "$tmp/x"
  install -D -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-buildx" "$dir/docker-buildx"
  rm -rf "$tmp"
  docker buildx version >/dev/null || die "docker buildx does not run after the install"
}

smops_venv() {
  local stamp="$SMOPS_VENV/.smops-stamp" want
  want=$(cat "$SMOPS_ROOT/requirements-dev.txt" "$SMOPS_ROOT/pyproject.toml" | sha256sum | cut -c1-16)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  local py=python3
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ is required"
  log "creating the virtualenv in $SMOPS_VENV"
  "$py" -m venv "$SMOPS_VENV"
  "$SMOPS_VENV/bin/pip" install -q --upgrade pip
  "$SMOPS_VENV/bin/pip" install -q -r "$SMOPS_ROOT/requirements-dev.txt"
  "$SMOPS_VENV/bin/pip" install -q --no-deps -e "$SMOPS_ROOT"
  echo "$want" >"$stamp"
}

smops_setup() {
  mkdir -p "$SMOPS_STATE"
  chmod 700 "$SMOPS_STATE"
  smops_apt
  smops_dockerd
  # The virtualenv (PyPI) is made while the images build (the archives).
  smops_venv >"$SMOPS_STATE/venv.log" 2>&1 &
  local venv_pid=$!
  smops_images
  smops_buildx
  wait "$venv_pid" || die "creating the virtualenv failed; see $SMOPS_STATE/venv.log"
  export PATH="$SMOPS_VENV/bin:$PATH"
  export ANSIBLE_CONFIG="$SMOPS_ROOT/ansible.cfg"
}

# What the fast and static checks need: only the venv (no root, apt, Docker or images).
smops_setup_venv_only() {
  mkdir -p "$SMOPS_STATE"
  chmod 700 "$SMOPS_STATE"
  smops_venv
  export PATH="$SMOPS_VENV/bin:$PATH"
  export ANSIBLE_CONFIG="$SMOPS_ROOT/ansible.cfg"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  smops_require_root "$@"
  smops_setup
  log "ready"
fi
