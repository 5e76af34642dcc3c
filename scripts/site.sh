#!/usr/bin/env bash
# README command 1: set up this machine, then run site.yml.
#   No SUPERMARK_DO_TOKEN: a local systemd test host stands in for the droplet.
#   With SUPERMARK_DO_TOKEN and SUPERMARK_DOMAIN: the same playbook targets DigitalOcean.
# Extra arguments go to ansible-playbook (e.g. --check, --tags docker).
set -euo pipefail
# shellcheck source=scripts/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
smops_require_root "$@"
smops_setup
cd "$SMOPS_ROOT"

if [ -z "${SUPERMARK_DO_TOKEN:-}" ] && [ -z "${SUPERMARK_SSH_PUBLIC_KEY:-}" ]; then
  # The local run needs a deploy key; make one for it once, kept on this side only.
  key="$SMOPS_STATE/local/id_ed25519"
  if [ ! -f "$key" ]; then
    mkdir -p "$SMOPS_STATE/local"
    ssh-keygen -q -t ed25519 -N '' -C supermark-ops-local -f "$key" 2>/dev/null \
      || die "ssh-keygen failed (apt-get install openssh-client)"
  fi
  export SUPERMARK_SSH_PUBLIC_KEY="$key.pub"
fi
inventory=()
if [ -n "${SUPERMARK_DO_TOKEN:-}" ] && [[ " $* " != *" -i "* && " $* " != *" --inventory"* ]]; then
  # Not inventory/local (the test host): the droplets found by tag, plus the
  # one the provisioning play creates and adds in this run.
  inventory=(-i "$SMOPS_ROOT/inventory/digitalocean/")
fi
log "ansible-playbook ${inventory[*]} site.yml $*"
exec ansible-playbook "${inventory[@]}" site.yml "$@"
