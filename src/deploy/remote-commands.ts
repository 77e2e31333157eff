import { posix } from 'node:path';
import { shellQuote as q } from '../shell.js';
import { NODE_MIN_MAJOR, nodeMajor } from './node-runtime.js';

/** The shell commands the SSH runner and the pipeline workers send to nodes (pure: text in, text out). */

/** `uname -m` → our arch names. */
export function archOf(machine: string): string {
  const m = machine.trim();
  if (m === 'x86_64' || m === 'amd64') return 'x64';
  if (m === 'aarch64' || m === 'arm64') return 'arm64';
  return m;
}

/** Prints the node's machine, cores and Node version (`none` without one), a line each. */
export const PROBE_COMMAND =
  'uname -m; (nproc 2>/dev/null || echo 1); (node -p "process.versions.node" 2>/dev/null || echo none)';

export interface NodeFacts {
  arch: string;
  cores: number;
  /** `node` when the image's own Node is recent enough for the runtime, else undefined. */
  node: string | undefined;
}

export function parseProbe(stdout: string): NodeFacts {
  const [machine = '', cores = '1', version = 'none'] = stdout.trim().split('\n');
  return {
    arch: archOf(machine),
    cores: Number(cores) || 1,
    node: nodeMajor(version) >= NODE_MIN_MAJOR ? 'node' : undefined,
  };
}

/**
 * Shell lines that hand `dirs` to `user` and set $AS to the prefix that runs a command as that user
 * (setpriv, util-linux, on every distribution we support), so user jobs never run as root (as
 * StarCluster's ipcluster plugin ran engines as CLUSTER_USER). Logged in as root: the user must
 * exist (node setup made it), else the command fails naming it. Not root (a test sshd), or
 * CLUSTER_USER = root: no switch.
 */
export function runAsUserLines(user: string | undefined, dirs: readonly string[]): string[] {
  if (!user || user === 'root') return ['AS='];
  return [
    `U=${q(user)}`,
    'if [ "$(id -u)" = 0 ]; then',
    `  id -u "$U" >/dev/null 2>&1 || { echo "CLUSTER_USER $U does not exist on $(hostname): node setup creates it" >&2; exit 3; }`,
    `  chown -R "$U": ${dirs.map(q).join(' ')} || exit 1`,
    // setpriv execs (no root parent left waiting, as runuser/su would); env gives the user's HOME.
    '  H=$(getent passwd "$U" | cut -d: -f6)',
    '  AS="setpriv --reuid=$U --regid=$(id -g "$U") --init-groups -- env HOME=$H USER=$U LOGNAME=$U"',
    'else AS=; fi',
  ];
}

/** Where the SSH runner writes a node's new desired.json before `supervisorStartCommand` moves it into place. */
export const DESIRED_NEXT = 'desired.json.next';

/**
 * Moves the node's new desired.json (DESIRED_NEXT) into place once the cluster user owns it, then
 * starts the node's supervisor unless it already runs, detached, as the cluster user. The marker
 * `--sc-node=CLUSTER/ALIAS` is assembled in the shell so this command's own line never contains it
 * (pgrep -f would otherwise find the shell running this very check).
 */
export function supervisorStartCommand(options: {
  cluster: string;
  alias: string;
  /** The cluster's folder on the node (handed to the cluster user). */
  base: string;
  nodeDir: string;
  node: string;
  supervisor: string;
  runAs: string | undefined;
}): string {
  const { nodeDir } = options;
  return [
    ...runAsUserLines(options.runAs, [options.base]),
    `mv -f ${q(posix.join(nodeDir, DESIRED_NEXT))} ${q(posix.join(nodeDir, 'desired.json'))} || exit 1`,
    `M=--sc-node=${q(options.cluster)}/; M="$M"${q(options.alias)}`,
    // setsid -f: a backgrounded `( … &)` would keep the SSH channel open.
    `pgrep -f -- "[-]\${M#-} " >/dev/null || { cd ${q(nodeDir)} && setsid -f $AS ${q(options.node)} ${q(options.supervisor)} "$M" --dir ${q(nodeDir)} >>supervisor.log 2>&1 </dev/null; }`,
  ].join('\n');
}

/**
 * Stops a node's supervisor and everything it runs, and returns only once they are gone (SIGTERM,
 * up to 10 s for a clean exit, then SIGKILL), so `terminate` and `removenode` never race them.
 */
export function supervisorStopCommand(cluster: string, alias: string): string {
  return [
    `M=-sc-node=${q(cluster)}/; M="$M"${q(alias)}`,
    `pkill -TERM -f -- "[-]$M "`,
    `for _ in $(seq 50); do pgrep -f -- "[-]$M " >/dev/null || exit 0; sleep 0.2; done`,
    `pkill -KILL -f -- "[-]$M "; exit 0`,
  ].join('\n');
}
