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
  return paths
    .map(
      (p) => `mkdir -p ${q(p)}; ${mountedAs(p, 'fuse.sshfs')} || sshfs -o ${options} root@${masterIp}:${q(p)} ${q(p)}`,
    )
    .join('\n');
}

export function sshfsUnmountScript(paths: readonly string[]): string {
  return paths
    .map((p) => `${mountedAs(p, 'fuse.sshfs')} && (fusermount3 -uz ${q(p)} || umount -l ${q(p)}) || true`)
    .join('\n');
}

// --- EBS volumes ------------------------------------------------------------------------------

/** Mounts an attached volume: `/dev/sdX` may appear as `/dev/xvdX` (Xen) or an NVMe name; waits for it. */
export function mountVolumeScript(device: string, mountPath: string, partition?: number): string {
  const suffix = partition ? String(partition) : '';
  const xvd = device.replace('/dev/sd', '/dev/xvd');
  return [
    `dev=''; for i in $(seq 1 60); do for d in ${q(device + suffix)} ${q(xvd + suffix)}; do [ -b "$d" ] && dev=$d && break 2; done; sleep 1; done`,
    `[ -n "$dev" ] || { echo "device ${device} did not appear" >&2; exit 1; }`,
    `mkdir -p ${q(mountPath)}`,
    replaceBlockScriptFor(`/etc/fstab`, mountPath, `$dev ${mountPath} auto noauto,defaults 0 0`),
    `mountpoint -q ${q(mountPath)} || mount "$dev" ${q(mountPath)}`,
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
