import { AbortError, RemoteError, StarclusterError } from '../errors.js';
import { shellQuote as q, type CommandRunner } from '../remote/types.js';
import { SSH_FATAL } from '../remote/wait.js';
import { deadlineIn, systemClock, type Clock } from '../clock.js';

/**
 * How setup gets root on a node made from a stock image.
 *
 * starcluster works as root on its nodes, as StarCluster did: `sshmaster` and `sshnode` give a
 * root shell, setup and the engine runtime log in as root. A stock AMI refuses root and lets in
 * its own user instead (`admin` on Debian, `ubuntu` on Ubuntu, `ec2-user` on Amazon Linux), with
 * passwordless sudo. So:
 * 1. Our user data says `disable_root: false`: cloud-init then gives root the key pair's key, and
 *    root login simply works (the usual case).
 * 2. If root is still refused (an image that ignores that, user data of the user's own making,
 *    `PermitRootLogin no`), setup logs in as the image's user (LOGIN_USER, else the user known for
 *    the AMI, else the usual ones in turn) and, with its sudo, authorizes the key pair's key for
 *    root and lets sshd accept root by key (`PermitRootLogin prohibit-password`). From then on
 *    every step, `sshmaster` included, is root as in case 1.
 * A login user without passwordless sudo is a clear error (`NoRootAccess`): nothing can be set up.
 */

/** The image's usual login users, tried in this order when nothing names one. */
export const DEFAULT_LOGIN_USERS = ['admin', 'ubuntu', 'ec2-user'] as const;

/** A login user named by cloud-init's refusal ("Please login as the user "admin" rather than the user "root"."). */
export function refusedRootFor(output: string): string | undefined {
  return /Please login as the user \\?"([a-z_][a-z0-9_-]*)\\?" rather than the user \\?"root\\?"/i.exec(output)?.[1];
}

/** The login users to try, best first: the configured or known one, then the usual ones. */
export function loginCandidates(...known: (string | undefined)[]): string[] {
  return [...new Set([...known.filter((u): u is string => !!u && u !== 'root'), ...DEFAULT_LOGIN_USERS])];
}

/**
 * Run with sudo as the login user: puts our login key in root's authorized_keys (replacing a
 * cloud-init `command="echo Please login as..."` entry for the same key), and makes sshd accept
 * root by key if it refuses root outright. Idempotent.
 */
export function enableRootScript(loginKey: string): string {
  const body = loginKey.trim().split(/\s+/)[1] ?? loginKey.trim();
  const file = '/root/.ssh/authorized_keys';
  return [
    'set -e',
    'umask 077',
    'mkdir -p /root/.ssh',
    `touch ${file}`,
    `{ grep -vF ${q(body)} ${file} || true; echo ${q(loginKey.trim())}; } > ${file}.sc`,
    `cat ${file}.sc > ${file}; rm -f ${file}.sc; chmod 700 /root/.ssh; chmod 600 ${file}`,
    // sshd reads the first value it meets, and Debian, Ubuntu and Amazon Linux include sshd_config.d first.
    `if [ "$(sshd -T 2>/dev/null | awk '$1=="permitrootlogin" {print $2}')" = no ]; then`,
    '  mkdir -p /etc/ssh/sshd_config.d',
    "  echo 'PermitRootLogin prohibit-password' > /etc/ssh/sshd_config.d/00-starcluster-root.conf",
    '  systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || pkill -HUP -x sshd || true',
    'fi',
  ].join('\n');
}

/** What waitForRoot needs: a session as a user (connecting once, kept for later), and forgetting one. */
export interface LoginConnector {
  /** Connects as `user` (no retries); throws RemoteError `SshAuthFailed` when the key is refused. */
  connect(user: string): Promise<CommandRunner>;
  /** Drops a cached session (root's, once it turned out to be cloud-init's refusal). */
  forget(user: string): void;
}

export interface WaitForRootOptions {
  alias: string;
  /** The key we log in with, as an authorized_keys line. */
  loginKey: string;
  /** Login users to try when root is refused, best first (see loginCandidates). */
  loginUsers: readonly string[];
  timeoutMs?: number;
  signal?: AbortSignal;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Whose time the waits and the total are measured in (default the wall clock). */
  clock?: Clock;
  /** Told when root was enabled through a login user. */
  onRootEnabled?: (user: string) => void;
}

/**
 * Waits until the node accepts root with our key, enabling it through the image's login user
 * when root is refused. Retries while the node boots (sshd not up yet, cloud-init not done
 * writing keys); fails with `SshTimeout` naming the node and the last error, or `NoRootAccess`
 * when a login user gets in but has no passwordless sudo.
 */
export async function waitForRoot(connector: LoginConnector, options: WaitForRootOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const clock = options.clock ?? systemClock;
  const deadline = deadlineIn(timeoutMs, clock);
  let delay = options.initialDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 2_000;
  const users = [...options.loginUsers];
  let last: unknown;
  let attempts = 0;
  let triedAfterEnable = false;
  for (;;) {
    if (options.signal?.aborted) throw new AbortError();
    attempts += 1;
    let rootRefused: boolean;
    try {
      const root = await connector.connect('root');
      const check = await root.exec('id -u');
      if (check.code === 0 && check.stdout.trim() === '0') return;
      // cloud-init's disable_root: the key is accepted, but every command prints a refusal.
      connector.forget('root');
      const named = refusedRootFor(`${check.stdout}\n${check.stderr}`);
      if (named) {
        if (users.includes(named)) users.splice(users.indexOf(named), 1);
        users.unshift(named);
      }
      rootRefused = true;
      last = new RemoteError(
        'RootRefused',
        `root login on ${options.alias} is refused: ${check.stdout.trim().split('\n')[0] ?? ''}`,
      );
    } catch (error) {
      if (StarclusterError.is(error) && SSH_FATAL.has(error.code)) throw error;
      last = error;
      rootRefused = StarclusterError.is(error) && error.code === 'SshAuthFailed';
    }
    let enabled = false;
    if (rootRefused) {
      for (const user of users) {
        let session: CommandRunner;
        try {
          session = await connector.connect(user);
        } catch (error) {
          if (StarclusterError.is(error) && SSH_FATAL.has(error.code)) throw error;
          if (!(StarclusterError.is(error) && error.code === 'SshAuthFailed')) last = error;
          continue;
        }
        const result = await session.exec(`sudo -n sh -c ${q(enableRootScript(options.loginKey))}`, {
          timeoutMs: 60_000,
        });
        if (result.code !== 0) {
          throw new RemoteError(
            'NoRootAccess',
            `${options.alias}: ${user} logs in but cannot sudo without a password, so setup cannot get root`,
            {
              details: (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3),
              hint: 'use an image whose login user has passwordless sudo (every stock Debian, Ubuntu and Amazon Linux AMI has), or allow root login by key',
            },
          );
        }
        options.onRootEnabled?.(user);
        connector.forget('root');
        enabled = true;
        break;
      }
    }
    const left = deadline.remaining();
    if (left <= 0) break;
    // Just enabled: try root again at once. Otherwise the node may still be booting (no sshd yet,
    // or cloud-init not done writing keys): back off.
    if (enabled && !triedAfterEnable) {
      triedAfterEnable = true;
      continue;
    }
    await clock.sleep(Math.min(delay, left), options.signal);
    delay = Math.min(delay * 1.6, maxDelay);
  }
  const reason = last instanceof Error ? last.message : 'no attempt finished';
  throw new RemoteError(
    'SshTimeout',
    `${options.alias} did not accept ssh as root within ${Math.round(timeoutMs / 1000)}s after ${attempts} attempts; last error: ${reason}`,
    {
      hint: `check that the instance is running, that its security group lets this machine reach port 22, that KEY_LOCATION is the key it was launched with, and that LOGIN_USER names the image's user (tried: root, ${users.join(', ')})`,
      cause: last,
    },
  );
}
