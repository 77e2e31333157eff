#!/bin/sh
# Runs as pid 1 of a fleet host's own pid, mount and UTS namespaces, inside its network namespace
# (started by fleet.py). Builds the host's root filesystem and execs its pid 1 (host-pid1.sh).
#   $1 host dir (on the fleet tmpfs), $2 hostname, $3 private IP, $4 overlay lower dirs (default /;
#   an image made from a host puts its layer on top: layers.py)
set -eu
H=$1 NAME=$2 IP=$3 LOWER=${4:-/}
R=$H/merged

hostname "$NAME"
# A private copy-on-write view of this machine's /: the host's /etc, packages and users are its own.
mount -t overlay fleet-root -o "lowerdir=$LOWER,upperdir=$H/upper,workdir=$H/work" "$R"
# Empty, private /root and /home (the real ones are not shown to hosts).
mount --bind "$H/root" "$R/root"
mount --bind "$H/home" "$R/home"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=0755 run "$R/run"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
# The fleet's own state (and anything else mounted on the real machine) stays invisible.
mkdir -p "$R/run/sshd" "$R/mnt"
mount -t tmpfs -o mode=0755 mnt "$R/mnt"

chmod 0700 "$R/root"
mkdir -p "$R/root/.ssh"
chmod 0700 "$R/root/.ssh"
cp "$H/authorized_keys" "$R/root/.ssh/authorized_keys"
chmod 0600 "$R/root/.ssh/authorized_keys"

echo "$NAME" > "$R/etc/hostname"
printf '127.0.0.1 localhost\n%s %s\n' "$IP" "$NAME" > "$R/etc/hosts"
# New host keys on the first boot (not this machine's, nor those of the host an image was made
# from); a reboot keeps them, as on EC2.
[ -e "$H/booted" ] || rm -f "$R"/etc/ssh/ssh_host_*
: > "$H/booted"
cp "$(dirname "$0")/sshd_config" "$R/etc/ssh/sshd_config"
rm -rf "$R/etc/ssh/sshd_config.d"
# pam_loginuid needs a writable audit loginuid, which a namespace may not have.
if [ -f "$R/etc/pam.d/sshd" ]; then
  sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' "$R/etc/pam.d/sshd"
fi

# pid 1 from here on (host-pid1.sh): keeps sshd running, reaps orphans and takes the host's power
# requests. This host's /dev is the machine's: a /dev/initctl there (a SysV init's control FIFO) is
# covered by the host's own, so the host's shutdown never reaches the machine's init.
mkdir -p "$R/run/fleet-host"
cp "$(dirname "$0")/host-pid1.sh" "$R/run/fleet-host/pid1"
mkfifo -m 0600 "$R/run/initctl"
if [ -e "$R/dev/initctl" ] && [ ! -L "$R/dev/initctl" ]; then
  mount --bind "$R/run/initctl" "$R/dev/initctl"
fi
exec chroot "$R" /bin/bash /run/fleet-host/pid1 fast
