#!/usr/bin/env bash
# What `npm test` needs besides node_modules, checked (and installed when it can be) before any test
# runs, so that a fresh machine either gets it or is told exactly what is missing — never a suite
# that skips itself and passes having proved nothing.
#   - root: the test fleet makes network namespaces, a bridge and overlay mounts;
#   - Debian packages: sshd and sshfs for fleet hosts, iproute2, fonts for the figures, mmdebstrap and
#     apt-cacher-ng for the fleet's stock images and their package proxy;
#   - LocalStack in localstack/.venv (localstack/install.sh; Python >= 3.13).
# As root on a Debian machine it installs what is missing (apt-get); otherwise it names it and exits 1.
# .ci/run relies on this list: add a package here, not there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  openssh-server openssh-client sshfs fuse3 iproute2 iptables procps psmisc util-linux
  ca-certificates fonts-dejavu-core mmdebstrap debian-archive-keyring apt-cacher-ng
)

if [ "$(id -u)" != 0 ]; then
  echo "npm test needs root: the test fleet makes network namespaces, a bridge and overlay mounts." >&2
  echo "  Run it as root (sudo -E npm test), or run the unit tests alone: npx vitest run --project unit" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "npm test needs these Debian packages, and this machine has no apt-get: ${missing[*]}" >&2
    exit 1
  fi
  echo "test/prerequisites.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  # policy-rc.d: packages must not start their daemons (apt-cacher-ng would listen on every address);
  # the fleet starts what it needs, bound to its own addresses.
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    status=$?
  [ -n "$made_policy" ] && rm -f "$policy"
  if [ "${status:-0}" != 0 ]; then
    echo "test/prerequisites.sh: apt-get install ${missing[*]} failed ($status)" >&2
    exit 1
  fi
fi

localstack/install.sh
