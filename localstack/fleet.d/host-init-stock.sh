#!/bin/sh
# Boots a fleet host from a stock image (fleet.py, for an instance whose ImageId is a fleet image):
# pid 1 of the host's own pid, mount and UTS namespaces, inside its network namespace. The root
# filesystem is an overlay with the image as its lower dir, so the host runs the image's own
# userland (/usr, sshd, cloud-init, apt). Then, as EC2 + systemd would on the image:
#   cloud-init init --local; cloud-init init   (cloud-init.service: users, keys, hostname, host keys)
#   sshd                                       (ssh.service runs after cloud-init.service)
#   cloud-init modules --mode=config; --mode=final   (cloud-config/cloud-final.service: packages,
#                                                     runcmd, user scripts), while sshd already answers
# The instance's user data and the key pair's public key come from a NoCloud seed the fleet wrote
# (the fleet's stand-in for the EC2 metadata service). There is no systemd: cloud-init's stages are
# run by hand, in systemd's order, and `cloud-init status --wait` works as on EC2.
#   $1 host dir, $2 hostname, $3 private IP, $4 overlay lower dirs: the image rootfs (under the layers
#   of images made from hosts, layers.py), $5 gateway (the package proxy's address)
set -eu
H=$1 NAME=$2 IP=$3 IMAGE=$4 GW=$5
R=$H/merged

hostname "$NAME"
mount -t overlay fleet-root -o "lowerdir=$IMAGE,upperdir=$H/upper,workdir=$H/work" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
# A /dev of its own, as a VM has: the usual character devices, fuse, its own ptys; no disks but the
# EBS volumes the fleet attaches (fleet.py: volumes).
mount -t tmpfs -o mode=0755,nosuid dev "$R/dev"
for d in "null c 1 3" "zero c 1 5" "full c 1 7" "random c 1 8" "urandom c 1 9" "tty c 5 0" "fuse c 10 229"; do
  set -- $d
  mknod -m 0666 "$R/dev/$1" "$2" "$3" "$4"
done
mkdir -p "$R/dev/pts" "$R/dev/shm" "$R/dev/disk/by-id"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=0755 run "$R/run"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mkdir -p "$R/run/sshd" "$R/run/lock"

# The platform, as EC2 presents it to the image: the NoCloud seed (metadata service), the apt proxy
# (the VPC's way out: only the gateway's package proxy), no DNS server (nothing to ask here).
mkdir -p "$R/var/lib/cloud/seed/nocloud"
cp "$H/seed/meta-data" "$H/seed/user-data" "$H/seed/vendor-data" "$R/var/lib/cloud/seed/nocloud/"
cat > "$R/etc/cloud/cloud.cfg.d/90_starcluster_fleet.cfg" <<CFG
# Written by the starcluster test fleet: its metadata is a NoCloud seed; the network is already up.
datasource_list: [ NoCloud, None ]
network: {config: disabled}
CFG
printf 'Acquire::http::Proxy "http://%s:3142";\nAcquire::https::Proxy "DIRECT";\n' "$GW" > "$R/etc/apt/apt.conf.d/00starcluster-fleet-proxy"
printf '127.0.0.1 localhost\n%s %s\n' "$IP" "$NAME" > "$R/etc/hosts"
: > "$R/etc/resolv.conf"
# pam_loginuid needs a writable audit loginuid, which a namespace may not have (the one change to sshd's setup).
if [ -f "$R/etc/pam.d/sshd" ]; then
  sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' "$R/etc/pam.d/sshd"
fi

# pid 1 from here on (host-pid1.sh): cloud-init's stages and sshd as systemd runs them on the image,
# an sshd kept running, orphans reaped, the host's power requests taken (/run/initctl).
mkdir -p "$R/run/fleet-host"
cp "$(dirname "$0")/host-pid1.sh" "$R/run/fleet-host/pid1"
mkfifo -m 0600 "$R/run/initctl"
exec chroot "$R" /bin/bash /run/fleet-host/pid1 stock
