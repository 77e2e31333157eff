import { shellQuote as q } from '../remote/types.js';

/**
 * The shell each setup step runs on a node. Pure functions: tests check the commands issued
 * (NFS cannot run on this kernel) and the fleet runs them for real. Every script is idempotent:
 * running it twice leaves the node as running it once.
 */

export const BLOCK_BEGIN = '# starcluster: begin';
export const BLOCK_END = '# starcluster: end';

/** Replaces (or appends) our marked block in `file`, keeping every other line; the file's mode is kept. */
export function replaceBlockScript(file: string, lines: readonly string[], mode = '644'): string {
  const body = [BLOCK_BEGIN, ...lines, BLOCK_END].join('\n');
  return [
    `f=${q(file)}; touch "$f"`,
    `t=$(mktemp "$f.XXXXXX")`,
    `awk -v b=${q(BLOCK_BEGIN)} -v e=${q(BLOCK_END)} '$0==b{skip=1;next} $0==e{skip=0;next} !skip' "$f" > "$t"`,
    `cat >> "$t" <<'SC_BLOCK'\n${body}\nSC_BLOCK`,
    // Rewritten in place, not renamed: /etc/hosts is often a bind mount.
    `cat "$t" > "$f"; rm -f "$t"; chmod ${mode} "$f"`,
  ].join('\n');
}

export function hostnameScript(hostname: string): string {
  return [`echo ${q(hostname)} > /etc/hostname`, `hostname ${q(hostname)}`].join('\n');
}

export interface HostLine {
  ip: string;
  names: string[];
}

export function etcHostsScript(hosts: readonly HostLine[]): string {
  return replaceBlockScript(
    '/etc/hosts',
    hosts.map((h) => `${h.ip} ${h.names.join(' ')}`),
  );
}

/** StarCluster's uid rule, run on the master: the owner of an existing /home/USER, else max uid in /home + 1 (≥ 1000). */
export function pickUidScript(user: string): string {
  return [
    `if [ -d /home/${q(user)} ]; then stat -c '%u %g' /home/${q(user)}; exit 0; fi`,
    `max=999; for d in /home/*; do [ -d "$d" ] || continue; u=$(stat -c %u "$d"); [ "$u" -gt "$max" ] && [ "$u" -lt 60000 ] && max=$u; done`,
    `echo $((max + 1)) $((max + 1))`,
  ].join('\n');
}

/** Creates the cluster user with this uid/gid and shell; a different user holding the uid is removed (as StarCluster). */
export function createUserScript(user: string, uid: number, gid: number, shell: string): string {
  const u = q(user);
  return [
    `shell=$(command -v ${q(shell)} || echo /bin/bash)`,
    `other=$(getent passwd ${uid} | cut -d: -f1)`,
    `if [ -n "$other" ] && [ "$other" != ${u} ]; then userdel "$other" >/dev/null 2>&1 || true; fi`,
    `getent group ${u} >/dev/null || groupadd -o -g ${gid} ${u}`,
    `if id -u ${u} >/dev/null 2>&1; then usermod -s "$shell" ${u}; else useradd -o -u ${uid} -g ${gid} -s "$shell" -m -d /home/${u} ${u} 2>/dev/null || useradd -o -u ${uid} -g ${gid} -s "$shell" -M -d /home/${u} ${u}; fi`,
    `mkdir -p /home/${u} && chown ${uid}:${gid} /home/${u}`,
  ].join('\n');
}

export function scratchScript(user: string): string {
  const u = q(user);
  return [`mkdir -p /mnt/${u} /scratch`, `chown ${u}: /mnt/${u}`, `ln -sfn /mnt/${u} /scratch/${u}`].join('\n');
}

/** The cluster key in HOME/.ssh, and its public half (plus anything already there) in authorized_keys. */
export function sshKeyScript(
  home: string,
  owner: string,
  privateKey: string,
  publicKey: string,
  extraAuthorized: readonly string[] = [],
): string {
  const dir = `${home}/.ssh`;
  const authorized = `${dir}/authorized_keys`;
  return [
    `umask 077; mkdir -p ${q(dir)}`,
    `cat > ${q(`${dir}/id_ed25519`)} <<'SC_KEY'\n${privateKey.trim()}\nSC_KEY`,
    `echo ${q(publicKey)} > ${q(`${dir}/id_ed25519.pub`)}`,
    `touch ${q(`${dir}/authorized_keys`)}`,
    ...[publicKey, ...extraAuthorized].map(
      (k) => `grep -qxF ${q(k)} ${q(authorized)} || echo ${q(k)} >> ${q(authorized)}`,
    ),
    `chmod 700 ${q(dir)}; chmod 600 ${q(`${dir}/id_ed25519`)} ${q(`${dir}/authorized_keys`)}; chmod 644 ${q(`${dir}/id_ed25519.pub`)}`,
    `chown -R ${q(owner)}: ${q(dir)}`,
  ].join('\n');
}

/** Every node's host keys under its names and IP, for every user of every node (no prompts). */
export function knownHostsScript(lines: readonly string[]): string {
  return replaceBlockScript('/etc/ssh/ssh_known_hosts', lines);
}

/** Reads a node's host public keys (`type base64` per line). */
export const HOST_KEYS_COMMAND = 'cat /etc/ssh/ssh_host_*_key.pub';

// --- shared filesystem: NFS (real EC2) ------------------------------------------------------

/** True (exit 0) when PATH is already mounted with a filesystem type starting with TYPE (a /home that is itself a mount point is not enough). */
export function mountedAs(path: string, type: string): string {
  return `awk -v p=${q(path)} -v t=${q(type)} '$2==p && index($3,t)==1 {f=1} END {exit !f}' /proc/mounts`;
}

export const NFS_EXPORT_OPTIONS = 'async,no_root_squash,no_subtree_check,rw';

export function nfsExportScript(paths: readonly string[], clientIps: readonly string[]): string {
  const lines = paths.flatMap((p) => clientIps.map((ip) => `${p} ${ip}(${NFS_EXPORT_OPTIONS})`));
  return [
    replaceBlockScript('/etc/exports', lines),
    ...paths.map((p) => `mkdir -p ${q(p)}`),
    // Debian/Ubuntu name the service nfs-kernel-server, others nfs-server.
    `(systemctl start nfs-kernel-server || systemctl start nfs-server || service nfs-kernel-server start) >/dev/null 2>&1 || true`,
    `exportfs -ra`,
  ].join('\n');
}

export function nfsMountScript(masterIp: string, paths: readonly string[]): string {
  return [
    replaceBlockScript(
      '/etc/fstab',
      paths.map((p) => `${masterIp}:${p} ${p} nfs vers=3,rw,exec,noauto,hard,intr 0 0`),
    ),
    ...paths.map((p) => `mkdir -p ${q(p)}; ${mountedAs(p, 'nfs')} || mount ${q(p)}`),
  ].join('\n');
}

export function nfsUnmountScript(paths: readonly string[]): string {
  return paths.map((p) => `${mountedAs(p, 'nfs')} && umount -l ${q(p)} || true`).join('\n');
}

// --- shared filesystem: sshfs (the test fleet; or clusters without an NFS server) --------------

export function sshfsMountScript(masterIp: string, paths: readonly string[]): string {
  const options = [
    'allow_other',
    'default_permissions',
    'reconnect',
    'ServerAliveInterval=15',
    'ServerAliveCountMax=3',
    'IdentityFile=/root/.ssh/id_ed25519',
    'StrictHostKeyChecking=yes',
    'BatchMode=yes',
  ].join(',');
  // Retried: a master busy with setup's own connections may drop one (sshd's MaxStartups).
  return paths
    .map((p) =>
      [
        `mkdir -p ${q(p)}`,
        `for i in 1 2 3 4 5; do ${mountedAs(p, 'fuse.sshfs')} && break; sshfs -o ${options} root@${masterIp}:${q(p)} ${q(p)} && break; sleep $i; done`,
        mountedAs(p, 'fuse.sshfs'),
      ].join('; '),
    )
    .join('\n');
}

export function sshfsUnmountScript(paths: readonly string[]): string {
  return paths
    .map((p) => `${mountedAs(p, 'fuse.sshfs')} && (fusermount3 -uz ${q(p)} || umount -l ${q(p)}) || true`)
    .join('\n');
}

// --- EBS volumes ------------------------------------------------------------------------------

/**
 * The shell that finds an attached EBS volume's block device by its volume id and sets `$dev`.
 * On Nitro instances every EBS volume is an NVMe disk whose serial is the volume id without its
 * dash: udev names it /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123…, and the kernel
 * shows the serial in /sys (for images without that udev rule). On Xen instances the device is the
 * name we attached it as, `/dev/sdX`, or `/dev/xvdX`. Waits up to 120 s for it to appear.
 */
export function findVolumeDeviceScript(volumeId: string, device: string, partition?: number): string {
  const serial = volumeId.replace(/-/g, '');
  const byId = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}`;
  const xvd = device.replace('/dev/sd', '/dev/xvd');
  const part = partition ? String(partition) : '';
  return [
    `dev=''`,
    `for i in $(seq 1 120); do`,
    `  if [ -b ${q(byId)} ]; then dev=$(readlink -f ${q(byId)}); break; fi`,
    `  for c in /sys/class/nvme/nvme*; do [ "$(tr -d ' ' < "$c/serial" 2>/dev/null)" = ${q(serial)} ] || continue; for b in "$c"/nvme*n1; do [ -e "$b" ] && dev=/dev/$(basename "$b"); done; done`,
    `  [ -n "$dev" ] && [ -b "$dev" ] && break`,
    `  for d in ${q(device)} ${q(xvd)}; do [ -b "$d" ] && dev=$d && break 2; done`,
    `  dev=''; sleep 1`,
    `done`,
    `[ -n "$dev" ] || { echo ${q(`volume ${volumeId} (attached as ${device}) did not appear: no ${byId}, ${device} or ${xvd}`)} >&2; exit 1; }`,
    // Partitions: nvme1n1 → nvme1n1p1, sdz → sdz1.
    ...(part
      ? [
          `case "$dev" in *[0-9]) dev="\${dev}p${part}" ;; *) dev="\${dev}${part}" ;; esac`,
          `[ -b "$dev" ] || { echo "partition ${part} of volume ${volumeId} ($dev) does not exist" >&2; exit 1; }`,
        ]
      : []),
  ].join('\n');
}

/** What may format a volume: `mkfs.TYPE` and plain options (it comes from a volume tag). */
export const MKFS_COMMAND = /^mkfs\.[a-z0-9]+( +-{1,2}[A-Za-z][A-Za-z0-9-]*( +[A-Za-z0-9_.=,:/-]+)?)*$/;

/**
 * Formats `$dev` with MKFS only if it holds nothing: `blkid -p` (a low-level probe, not the cache)
 * exits 2 exactly when it finds no filesystem, RAID member or partition table. Anything else (a
 * filesystem, a partition table, an error) leaves the device untouched: data is never formatted.
 */
export function formatIfBlankScript(mkfs = 'mkfs.ext4'): string {
  if (!MKFS_COMMAND.test(mkfs)) throw new RangeError(`not a mkfs command: ${JSON.stringify(mkfs)}`);
  return [
    `[ -e "$dev" ] || { echo "$dev does not exist" >&2; exit 1; }`,
    `blkid -p "$dev" >/dev/null 2>&1; probe=$?`,
    `if [ "$probe" -eq 2 ]; then`,
    `  echo "formatting blank $dev with ${mkfs}"`,
    `  ${mkfs} -q "$dev" </dev/null || exit 1`,
    `elif [ "$probe" -ne 0 ]; then`,
    `  echo "cannot tell whether $dev is blank (blkid exit $probe): not formatting it" >&2; exit 1`,
    `fi`,
  ].join('\n');
}

export interface VolumeMount {
  volumeId: string;
  /** The name it was attached as (`/dev/sdz`). */
  device: string;
  mountPath: string;
  partition?: number;
  /** Formats a blank device (default `mkfs.ext4`; createvolume's `starcluster:mkfs` tag). */
  mkfs?: string;
  /** Grows the filesystem to the device after mounting (resizevolume's `starcluster:resizefs` tag). */
  resizefs?: string;
}

/**
 * Mounts an attached volume: found by volume id (Nitro) or attach name (Xen), formatted if blank,
 * recorded in /etc/fstab by filesystem UUID (NVMe names can change between boots), mounted.
 */
export function mountVolumeScript(volume: VolumeMount): string {
  const path = volume.mountPath;
  const grow = volume.resizefs?.trim();
  if (grow && !/^(resize2fs|xfs_growfs|btrfs filesystem resize max)$/.test(grow))
    throw new RangeError(`not a resize command: ${JSON.stringify(grow)}`);
  return [
    findVolumeDeviceScript(volume.volumeId, volume.device, volume.partition),
    formatIfBlankScript(volume.mkfs),
    `mkdir -p ${q(path)}`,
    `uuid=$(blkid -s UUID -o value "$dev")`,
    `src="$dev"; [ -n "$uuid" ] && src="UUID=$uuid"`,
    replaceBlockScriptFor(`/etc/fstab`, path, `$src ${path} auto noauto,defaults,nofail 0 0`),
    `mountpoint -q ${q(path)} || mount "$dev" ${q(path)}`,
    ...(grow
      ? [
          grow === 'resize2fs'
            ? `resize2fs "$dev"`
            : grow === 'xfs_growfs'
              ? `xfs_growfs ${q(path)}`
              : `btrfs filesystem resize max ${q(path)}`,
        ]
      : []),
  ].join('\n');
}

/** An fstab line owned by one mount path (so several volumes keep separate lines). */
function replaceBlockScriptFor(file: string, key: string, line: string): string {
  const tag = `# starcluster volume ${key}`;
  return [
    `f=${q(file)}; touch "$f"; t=$(mktemp "$f.XXXXXX")`,
    `grep -vF ${q(tag)} "$f" > "$t" || true`,
    `echo "${line} ${tag}" >> "$t"`,
    `cat "$t" > "$f"; rm -f "$t"`,
  ].join('\n');
}

/** Runs a USERDATA script once per node (a marker records its hash). */
export function runOnceScript(hash: string, remotePath: string): string {
  const marker = `/var/lib/starcluster/userdata-${hash}.done`;
  return [
    `[ -e ${q(marker)} ] && exit 0`,
    `chmod +x ${q(remotePath)} && ${q(remotePath)}`,
    `mkdir -p /var/lib/starcluster && touch ${q(marker)}`,
  ].join('\n');
}
