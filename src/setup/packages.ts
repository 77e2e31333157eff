import { deadlineIn, systemClock, type Clock, type Deadline } from '../clock.js';
import { RemoteError, throwIfAborted } from '../errors.js';
import { shellQuote as q, type CommandRunner, type ExecResult } from '../remote/types.js';

/**
 * Installing packages on a node with the image's own package manager: apt on Debian and Ubuntu,
 * dnf on Amazon Linux 2023 (and the Fedora/RHEL family). Setup uses it before the steps that need
 * a package (NFS, sshfs); plugins use it for theirs (`installPackages(node.ssh, [...])`).
 *
 * What a careful operator does by hand, done every time:
 * - only what is missing is installed (a node that has everything costs one query, no network);
 * - `apt-get update` runs once, when the lists are empty (stock images ship without them) or when
 *   apt cannot find a package or a file the stale lists name;
 * - apt and dpkg locks are waited for: on a fresh instance cloud-init or unattended-upgrades often
 *   hold them for a minute or two;
 * - transient mirror errors (DNS, connection, 5xx, hash mismatch while a mirror syncs) are retried
 *   with backoff; a package that does not exist fails at once, naming it.
 *
 * The host must run commands as root (setup's `access.host(node, 'root')`).
 */

export type PackageManager = 'apt' | 'dnf';

export interface OsRelease {
  /** `debian`, `ubuntu`, `amzn`... (os-release ID). */
  id: string;
  idLike: string[];
  /** `12`, `24.04`, `2023`. */
  versionId: string;
  prettyName: string;
  manager: PackageManager;
}

const APT_FAMILY = new Set(['debian', 'ubuntu']);
const DNF_FAMILY = new Set(['amzn', 'fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol']);

/** Parses /etc/os-release (shell-style KEY=value lines, values optionally quoted). */
export function parseOsRelease(text: string, where = 'the node'): OsRelease {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2]!.trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    fields.set(match[1]!, value);
  }
  const id = (fields.get('ID') ?? '').toLowerCase();
  const idLike = (fields.get('ID_LIKE') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const family = [id, ...idLike];
  const manager: PackageManager | undefined = family.some((f) => APT_FAMILY.has(f))
    ? 'apt'
    : family.some((f) => DNF_FAMILY.has(f))
      ? 'dnf'
      : undefined;
  const prettyName = fields.get('PRETTY_NAME') ?? (id || 'an unknown system');
  if (!manager) {
    throw new RemoteError(
      'UnsupportedOs',
      `${where} runs ${prettyName}: starcluster sets up Debian, Ubuntu and Amazon Linux nodes`,
      {
        hint: 'use NODE_IMAGE_ID = debian-12, ubuntu-24.04 or al2023 (or an image built from one of them)',
      },
    );
  }
  return { id, idLike, versionId: fields.get('VERSION_ID') ?? '', prettyName, manager };
}

/** Reads the node's /etc/os-release. */
export async function detectOs(host: CommandRunner & { alias?: string }): Promise<OsRelease> {
  const result = await host.exec('cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release');
  if (result.code !== 0) {
    throw new RemoteError(
      'UnsupportedOs',
      `${host.alias ?? 'the node'} has no /etc/os-release: cannot tell its distribution`,
      {
        hint: 'use NODE_IMAGE_ID = debian-12, ubuntu-24.04 or al2023',
      },
    );
  }
  return parseOsRelease(result.stdout, host.alias);
}

/**
 * What setup asks for by role, named per package manager. Any other name is passed through as the
 * distribution's own package name (plugins name theirs).
 */
export const PACKAGE_NAMES: Readonly<Record<string, Readonly<Record<PackageManager, readonly string[]>>>> = {
  'nfs-server': { apt: ['nfs-kernel-server'], dnf: ['nfs-utils'] },
  'nfs-client': { apt: ['nfs-common'], dnf: ['nfs-utils'] },
  // Amazon Linux 2023's repositories carry no sshfs: there the install fails naming it (use SHARED_FS = nfs).
  sshfs: { apt: ['sshfs'], dnf: ['fuse-sshfs'] },
  'ssh-client': { apt: ['openssh-client'], dnf: ['openssh-clients'] },
  xvfb: { apt: ['xvfb'], dnf: ['xorg-x11-server-Xvfb'] },
  // The queue (./queue.ts). Fedora/EPEL's names; Amazon Linux 2023 has none of them (setup says so).
  'slurm-client': { apt: ['slurm-client'], dnf: ['slurm'] },
  slurmctld: { apt: ['slurmctld'], dnf: ['slurm-slurmctld'] },
  slurmd: { apt: ['slurmd'], dnf: ['slurm-slurmd'] },
  openmpi: { apt: ['openmpi-bin', 'libopenmpi-dev'], dnf: ['openmpi', 'openmpi-devel'] },
  // What mpicc calls (a stock image has no compiler; recommends are not installed, so libc's headers are named).
  'c-compiler': { apt: ['gcc', 'g++', 'make', 'libc6-dev'], dnf: ['gcc', 'gcc-c++', 'make'] },
};

/** The distribution's package names for `names` (roles from PACKAGE_NAMES, others as given), without repeats. */
export function packageNames(manager: PackageManager, names: readonly string[]): string[] {
  return [...new Set(names.flatMap((n) => PACKAGE_NAMES[n]?.[manager] ?? [n]))];
}

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._:=~-]*$/;

export interface InstallOptions {
  /** The node's OS when already known (else /etc/os-release is read). */
  os?: OsRelease;
  /** Attempts for transient mirror errors (default 5; backoff 2 s, 4 s, 8 s...). */
  attempts?: number;
  /** How long to wait in total for another apt/dpkg/dnf to let go of its lock (default 15 min). */
  lockWaitMs?: number;
  /** Longest one install command may run (default 30 min). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Whose time the pauses between attempts and the lock wait are measured in (default the wall clock). */
  clock?: Clock;
  /** Told about each retry (shown as progress detail by setup). */
  onRetry?: (reason: string, attempt: number) => void;
}

export interface InstallResult {
  os: OsRelease;
  /** Distribution package names that were missing and are now installed. */
  installed: string[];
  /** Distribution package names that were there already. */
  present: string[];
}

/** Environment for every apt command: no prompts, no service restarts asked about (Ubuntu's needrestart). */
const APT_ENV = 'export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1';
/** apt waits this long for the dpkg lock itself before failing (then we wait and retry). */
const APT_LOCK_SECONDS = 120;

/** The query that prints each of `packages` that is not installed, one per line. */
export function missingPackagesCommand(manager: PackageManager, packages: readonly string[]): string {
  const list = packages.map(q).join(' ');
  return manager === 'apt'
    ? `for p in ${list}; do dpkg-query -W -f='\${Status}\\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"; done`
    : `for p in ${list}; do rpm -q --quiet --whatprovides "$p" || echo "$p"; done`;
}

/** True (exit 0) when apt has package lists (a stock image usually ships none). */
export const APT_HAS_LISTS = 'ls /var/lib/apt/lists/ 2>/dev/null | grep -q _Packages';

export function aptUpdateCommand(): string {
  return `${APT_ENV}\napt-get -q -o DPkg::Lock::Timeout=${APT_LOCK_SECONDS} -o Acquire::Retries=3 update`;
}

export function installCommand(manager: PackageManager, packages: readonly string[], refresh = false): string {
  const list = packages.map(q).join(' ');
  if (manager === 'apt') {
    return [
      APT_ENV,
      [
        'apt-get -y -q',
        `-o DPkg::Lock::Timeout=${APT_LOCK_SECONDS}`,
        '-o Acquire::Retries=3',
        // Keep the image's own config files where a package ships a different one.
        '-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold',
        `install --no-install-recommends ${list}`,
      ].join(' '),
    ].join('\n');
  }
  return `dnf -y -q --setopt=install_weak_deps=False${refresh ? ' --refresh' : ''} install ${list}`;
}

/** What a failed apt/dpkg/dnf run means. */
export type FailureKind = 'lock' | 'interrupted-dpkg' | 'not-found' | 'stale-lists' | 'transient' | 'fatal';

export function classifyFailure(manager: PackageManager, result: ExecResult): FailureKind {
  const text = `${result.stderr}\n${result.stdout}`;
  if (manager === 'apt') {
    if (/dpkg was interrupted/i.test(text)) return 'interrupted-dpkg';
    if (/Could not get lock|Unable to (acquire|lock)|is another process using it|Waiting for cache lock/i.test(text))
      return 'lock';
    if (/Unable to locate package|has no installation candidate|Package '.*' has no installation candidate/i.test(text))
      return 'not-found';
    if (/404\s+Not Found|is not valid yet|Release file .* is expired|changed its '(Suite|Codename)'/i.test(text))
      return 'stale-lists';
    if (
      /Temporary failure|Could not (connect|resolve)|Connection (failed|timed out|refused|reset)|Failed to fetch|Hash Sum mismatch|File has unexpected size|Mirror sync in progress|Some index files failed|\b50[0-4]\b|Undetermined Error|Network is unreachable|timed out/i.test(
        text,
      )
    )
      return 'transient';
    return 'fatal';
  }
  if (/No match for argument|Unable to find a match/i.test(text)) return 'not-found';
  if (/Waiting for process with pid|lock (held|file)|rpmdb.*lock|Cannot (get|obtain) lock/i.test(text)) return 'lock';
  if (
    /Curl error|Cannot download|Failed to download|Cannot prepare internal mirrorlist|Status code: 5\d\d|Cannot retrieve|Timeout was reached|Could not resolve host|Librepo|metadata/i.test(
      text,
    )
  )
    return 'transient';
  return 'fatal';
}

/**
 * Installs `names` (setup roles or distribution package names) on the node unless all are there.
 * Idempotent; throws RemoteError `PackageNotFound` for a name the distribution does not have, and
 * `PackageInstallFailed` (with apt's or dnf's last lines) when retries are used up.
 */
export async function installPackages(
  host: CommandRunner & { alias?: string },
  names: readonly string[],
  options: InstallOptions = {},
): Promise<InstallResult> {
  const os = options.os ?? (await detectOs(host));
  const packages = packageNames(os.manager, names);
  const bad = packages.filter((p) => !PACKAGE_NAME.test(p));
  if (bad.length > 0) {
    throw new RemoteError('PackageNameInvalid', `not a package name: ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  }
  if (packages.length === 0) return { os, installed: [], present: [] };
  const query = await host.exec(missingPackagesCommand(os.manager, packages), { timeoutMs: 60_000 });
  const missing = query.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => packages.includes(l));
  const present = packages.filter((p) => !missing.includes(p));
  if (missing.length === 0) return { os, installed: [], present };
  await installMissing(host, os, missing, options);
  return { os, installed: missing, present };
}

/**
 * Installs the missing packages with the node's package manager: updates lists (apt) or refreshes metadata
 * (dnf) when a name is unknown, finishes an interrupted dpkg run, waits out another package manager's lock,
 * and retries mirror errors with backoff.
 */
async function installMissing(
  host: CommandRunner & { alias?: string },
  os: OsRelease,
  missing: readonly string[],
  options: InstallOptions,
): Promise<void> {
  const where = host.alias ?? 'the node';
  const clock = options.clock ?? systemClock;
  const sleep = (ms: number): Promise<void> => clock.sleep(ms, options.signal);
  const attempts = Math.max(1, options.attempts ?? 5);
  const lockDeadline = deadlineIn(options.lockWaitMs ?? 15 * 60_000, clock);
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const run = (command: string): Promise<ExecResult> =>
    host.exec(command, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });

  let updated = false;
  let refresh = false;
  let transient = 0;
  const update = async (): Promise<ExecResult> => {
    updated = true;
    return run(aptUpdateCommand());
  };

  if (os.manager === 'apt' && (await host.exec(APT_HAS_LISTS)).code !== 0) {
    // A stock image's lists are empty: update first (its failures are handled like the install's).
    const first = await update();
    if (first.code !== 0) updated = false;
  }
  for (;;) {
    throwIfAborted(options.signal);
    const result = await run(installCommand(os.manager, missing, refresh));
    if (result.code === 0) return;
    const kind = classifyFailure(os.manager, result);
    const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-6);
    const failed = (code: string, message: string, hint?: string): RemoteError =>
      new RemoteError(code, message, { details: tail, ...(hint ? { hint } : {}) });

    if (kind === 'not-found' || kind === 'stale-lists') {
      // Stale or missing lists explain both; after a fresh update, a name still unknown is wrong.
      if (os.manager === 'apt' && !updated) {
        options.onRetry?.('updating package lists', 0);
        await waitForUpdate(update, sleep, lockDeadline, options);
        continue;
      }
      if (os.manager === 'dnf' && !refresh) {
        refresh = true;
        continue;
      }
      if (kind === 'not-found') {
        throw failed(
          'PackageNotFound',
          `${os.prettyName} on ${where} has no package ${missing.join(', ')} (${os.manager})`,
          os.manager === 'dnf' && missing.includes('fuse-sshfs')
            ? 'Amazon Linux has no sshfs package: use SHARED_FS = nfs'
            : 'check the package name for this distribution',
        );
      }
    }
    if (kind === 'interrupted-dpkg') {
      options.onRetry?.('finishing an interrupted dpkg run', 0);
      await run(`${APT_ENV}\ndpkg --configure -a`);
      continue;
    }
    if (kind === 'lock') {
      if (lockDeadline.expired()) {
        throw failed(
          'PackageLockTimeout',
          `${where}: another package manager held the lock for too long while installing ${missing.join(', ')}`,
          'cloud-init or unattended-upgrades may still be running: try again in a few minutes',
        );
      }
      options.onRetry?.('waiting for another package manager to finish', 0);
      await sleep(5_000);
      continue;
    }
    if ((kind === 'transient' || kind === 'stale-lists') && transient + 1 < attempts) {
      transient += 1;
      options.onRetry?.('mirror error, retrying', transient);
      await sleep(2_000 * 2 ** (transient - 1));
      // A mirror that changed under us: fresh lists (apt) or metadata (dnf) for the next try.
      if (os.manager === 'apt') await waitForUpdate(update, sleep, lockDeadline, options);
      else refresh = true;
      continue;
    }
    throw failed(
      'PackageInstallFailed',
      `installing ${missing.join(', ')} on ${where} failed (${os.manager}, exit ${result.code})`,
      kind === 'transient' ? `the package mirror kept failing after ${attempts} attempts: try again later` : undefined,
    );
  }
}

/** apt-get update, waiting out a held lists lock; a failed update is left to the install that follows. */
async function waitForUpdate(
  update: () => Promise<ExecResult>,
  sleep: (ms: number) => Promise<void>,
  lockDeadline: Deadline,
  options: InstallOptions,
): Promise<void> {
  for (;;) {
    throwIfAborted(options.signal);
    const result = await update();
    if (result.code === 0 || classifyFailure('apt', result) !== 'lock' || lockDeadline.expired()) return;
    options.onRetry?.('waiting for another package manager to finish', 0);
    await sleep(5_000);
  }
}
