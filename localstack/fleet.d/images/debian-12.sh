#!/bin/sh
# Recipe of the fleet's Debian 12 (bookworm) image: what the official Debian 12 AMI gives a user
# (Debian's cloud image: the `important` packages, openssh-server, sudo, python3, cloud-init whose
# default user is `admin` with passwordless sudo), built from Debian's packages with mmdebstrap.
# Not on it: Node.js, NFS, sshfs, Slurm. The fleet (fleet.py) caches the result under a hash of this
# file and rebuilds only when it changes; boot-time settings (datasource, apt proxy) are the fleet's.
# dpkg's unsafe I/O (no fsync per file) only while building: the result is the same, made faster.
#   debian-12.sh ROOTFS_DIR ARCH PROXY_URL
set -eu
out=$1 arch=$2 proxy=$3
mirror=http://deb.debian.org/debian

mmdebstrap --quiet --variant=important --arch="$arch" --mode=root --format=directory \
  --include=openssh-server,sudo,python3,cloud-init,locales,ca-certificates,curl,netbase,iproute2,less,gnupg \
  --aptopt="Acquire::http::Proxy \"$proxy\"" \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt=force-unsafe-io \
  --customize-hook='rm -f "$1"/etc/apt/apt.conf.d/99mmdebstrap "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook=': > "$1"/etc/machine-id; rm -f "$1"/var/lib/dbus/machine-id' \
  --customize-hook='rm -f "$1"/etc/hostname "$1"/etc/resolv.conf; : > "$1"/etc/resolv.conf' \
  --customize-hook='sed -i "s/^# *\(en_US.UTF-8 UTF-8\)/\1/" "$1"/etc/locale.gen && chroot "$1" locale-gen >/dev/null' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  --customize-hook='cat > "$1"/etc/apt/sources.list.d/debian.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
rm -f "$1"/etc/apt/sources.list' \
  --customize-hook='cat > "$1"/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg <<CFG
# As Debian 12 cloud images for EC2 (debian-cloud-images): the default user is admin.
apt:
  preserve_sources_list: true
manage_etc_hosts: true
system_info:
  default_user:
    name: admin
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/bash
    lock_passwd: true
    gecos: Debian
    groups: [adm, audio, cdrom, dialout, dip, floppy, plugdev, sudo, video]
CFG' \
  bookworm "$out" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"
