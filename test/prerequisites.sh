#!/usr/bin/env bash
# What `npm test` needs besides node_modules, checked (and installed when it can be) before any test
# runs, so that a fresh machine either gets it or is told exactly what is missing — never a suite
# that skips itself and passes having proved nothing.
#   - root: the test fleet makes network namespaces, a bridge and overlay mounts;
#   - Debian packages: sshd and sshfs for fleet hosts, iproute2, fonts for the figures, mmdebstrap and
#     apt-cacher-ng for the fleet's stock images and their package proxy;
#   - LocalStack in localstack/.venv (localstack/install.sh; Python >= 3.13);
#   - Node.js >= 20 (package.json "engines"), the kernel's loop and fuse devices, and the shared data
#     sets in ../shared/data (the science tests read them; they are never copied into this tree).
# As root on a Debian machine it installs what is missing (apt-get); otherwise it names it and exits 1.
# .ci/run relies on this list: add a package here, not there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  openssh-server openssh-client sshfs fuse3 iproute2 iptables procps psmisc util-linux mount e2fsprogs
  openssl ca-certificates fonts-dejavu-core mmdebstrap debian-archive-keyring apt-cacher-ng
)

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "npm test needs Node.js >= 20; this is $(node --version 2>/dev/null || echo 'no node')." >&2
  exit 1
fi

# The data sets the science tests read (synthetic light curves, the Stripe 82 and LINEAR loaders, the
# star-period job's recovery): without them those tests could only skip. See ../shared/data/README.md.
data=../shared/data
data_files=(
  RRLyr_ugriz_templates.tar.gz s82-rrlyrae/table1.tar.gz s82-rrlyrae/table2.dat.gz s82-rrlyrae/table3.dat.gz
  linear/allLINEARfinal_targets.dat.gz
)
missing_data=()
for f in "${data_files[@]}"; do [ -f "$data/$f" ] || missing_data+=("$data/$f"); done
if [ ${#missing_data[@]} -gt 0 ]; then
  echo "npm test needs the shared data sets next to this checkout (in $(cd .. && pwd)/shared/data), missing:" >&2
  printf '  %s\n' "${missing_data[@]}" >&2
  echo "  They are astroML-data's datasets (Sesar et al. 2010 Stripe 82 RR Lyrae subset, its ugriz templates," >&2
  echo "  the LINEAR targets table); put a copy there. Unit tests without them: npx vitest run --project unit" >&2
  exit 1
fi

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

# The kernel devices the tests use: loop (a Nitro volume, test/unit/setup/volumes.test.ts) and fuse (sshfs
# between fleet hosts). A module that is not loaded is loaded; a container without the devices is named.
for dev in loop-control:loop fuse:fuse; do
  [ -e "/dev/${dev%%:*}" ] || modprobe "${dev#*:}" 2>/dev/null || true
  if [ ! -e "/dev/${dev%%:*}" ]; then
    echo "npm test needs /dev/${dev%%:*} (kernel module ${dev#*:}): load it (modprobe ${dev#*:}), or give this container the device" >&2
    exit 1
  fi
done

localstack/install.sh
