#!/bin/bash
# pid 1 of a fleet host, run inside its root by host-init.sh (fast) and host-init-stock.sh (stock),
# which copy it to /run/fleet-host/pid1. A fleet host has no systemd; this does what systemd does on
# the AMI as far as the product can tell:
#   boot    stock: cloud-init's stages in systemd's order (init --local, init; sshd; then
#           modules config and final while sshd already answers); fast: host keys, sshd
#   sshd    kept running, as systemd restarts ssh.service (cloud-init's set-passwords and package
#           scripts restart ssh through its init script, which stops ours and starts its own)
#   orphans reaped
#   power   /run/initctl, SysV init's control FIFO: with no systemd on D-Bus, systemd's shutdown,
#           poweroff, halt and reboot (and SysV's telinit) send their runlevel there. Runlevel 0
#           (halt, power off) or 6 (reboot): every process gets SIGTERM, then pid 1 exits 130 or
#           129 and the kernel kills what is left. These are the statuses the kernel itself gives
#           a pid namespace one of whose processes calls reboot(2) (`poweroff -f`, `reboot -f`):
#           its init dies of SIGINT or SIGHUP. fleet.py turns them into what EC2 does (power off:
#           InstanceInitiatedShutdownBehavior, stop or terminate; reboot: the host boots again).
# Nothing here can reach this machine's init: the host has its own pid namespace (reboot(2) ends
# only that), its own /run (no systemd, D-Bus or initctl of the machine) and its own network
# namespace (no abstract sockets of the machine); the fast host's /dev is the machine's, so its
# /dev/initctl, if any, is covered by the host's own (host-init.sh).
#   $1 stock|fast
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
KIND=${1:-fast}
ME=/run/fleet-host
mkdir -p "$ME"
rm -f "$ME/power"
[ -p /run/initctl ] || mkfifo -m 0600 /run/initctl

# One request is struct init_request: 384 bytes, magic 0x03091969, cmd 1 (runlevel), the runlevel
# as a character ('0' = 48, '6' = 54), sleep time, unused data.
initctl() {
  exec 3<>/run/initctl
  local magic cmd level
  while :; do
    read -r magic cmd level _ < <(head -c 384 <&3 | od -An -v -t d4 -N 12)
    [ "$magic" = 50927977 ] && [ "$cmd" = 1 ] || continue
    case "$level" in
      48) echo poweroff > "$ME/power" ;;
      54) echo reboot > "$ME/power" ;;
      *) continue ;;
    esac
    kill -USR1 1
  done
}

others() {
  # True while a process other than this one (and not a zombie) is left in the host.
  local p s
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = 1 ] && continue
    read -r s < "$p/stat" 2>/dev/null || continue
    s=${s##*) }
    [ "${s%% *}" = Z ] || return 0
  done
  return 1
}

power() {
  local what code
  what=$(cat "$ME/power" 2>/dev/null)
  case "$what" in poweroff) code=130 ;; reboot) code=129 ;; *) return ;; esac
  echo "fleet host: $what requested; stopping every process"
  kill -TERM -1 2>/dev/null
  # Up to 5 s for them to end cleanly (systemd gives its units a stop timeout too); then the kernel
  # kills the rest when pid 1 exits.
  for _ in $(seq 50); do
    others || break
    sleep 0.1
  done
  exit "$code"
}
trap power USR1
initctl &

if [ "$KIND" = stock ]; then
  cloud-init init --local
  cloud-init init
  [ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A
  /usr/sbin/sshd -D -e &
  { cloud-init modules --mode=config; cloud-init modules --mode=final; echo "fleet host: cloud-init finished"; } &
else
  [ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
  [ -f /etc/ssh/ssh_host_ecdsa_key ] || ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key
  /usr/sbin/sshd -D -e &
fi

sshd_up() { [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; }
sleep 2 &
wait $!
while :; do
  if ! sshd_up; then
    sleep 2 &
    wait $!
    if ! sshd_up; then
      echo "fleet host: no sshd running; starting one"
      /usr/sbin/sshd -D -e &
      sleep 1 &
      wait $!
    fi
  fi
  sleep 2 &
  wait -n 2>/dev/null || true
done
