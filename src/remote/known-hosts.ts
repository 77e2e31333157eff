import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RemoteError } from '../errors.js';

/**
 * Trust on first use, as ElastiCluster does: a cluster's host keys are pinned in its own
 * `known_hosts` (OpenSSH format, so `ssh -o UserKnownHostsFile=...` can use it too) the first time
 * we reach a node; from then on a different key is refused.
 */

/** `198.18.0.5`, or `[198.18.0.5]:2222` when the port is not 22 (OpenSSH's spelling). */
export function knownHostsName(address: string, port = 22): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** The key type written inside an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`...). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('ascii');
}

export interface KnownHostEntry {
  host: string;
  keyType: string;
  key: string;
  /** The comment after the key: we write the instance id there. */
  comment?: string;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [hosts, keyType, key, comment] = line.split(/\s+/);
    if (!hosts || !keyType || !key) continue;
    for (const host of hosts.split(',')) entries.push({ host, keyType, key, ...(comment ? { comment } : {}) });
  }
  return entries;
}

export type HostKeyCheck = 'pinned' | 'match' | 'repinned';

// Writers to one file take turns, so parallel first contacts never lose a line.
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const next = previous.then(work, work);
  queues.set(
    file,
    next.catch(() => undefined),
  );
  return next;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await rename(temp, file);
}

/**
 * Checks `blob` against the key pinned for `host` in `file`; pins it when the host has none.
 * A host with a pinned key of the same type that differs is refused with `HostKeyChanged`.
 * (A host may have several pinned keys of different types, as OpenSSH allows.)
 *
 * `instanceId` is written as the line's comment. Pins of another instance at the same address
 * are replaced: EC2 reuses private addresses, and a new instance has new host keys by design.
 */
export function checkHostKey(
  file: string,
  host: string,
  blob: Buffer,
  label = host,
  instanceId?: string,
): Promise<HostKeyCheck> {
  return serialized(file, async () => {
    let text = await readText(file);
    const keyType = keyTypeOf(blob);
    const key = blob.toString('base64');
    let mine = parseKnownHosts(text).filter((e) => e.host === host);
    if (mine.some((e) => e.keyType === keyType && e.key === key)) return 'match';
    const stale =
      instanceId !== undefined &&
      mine.length > 0 &&
      mine.every((e) => e.comment !== undefined && e.comment !== instanceId);
    if (stale) {
      text = text
        .split('\n')
        .filter((raw) => !(raw.trim().split(/\s+/)[0] ?? '').split(',').includes(host))
        .join('\n');
      mine = [];
    }
    if (mine.length > 0) {
      throw new RemoteError(
        'HostKeyChanged',
        `host key for ${label} (${host}) has changed: it does not match the key pinned in ${file}`,
        {
          details: [
            `offered: ${keyType} ${key.slice(0, 24)}...`,
            ...mine.map((e) => `pinned:  ${e.keyType} ${e.key.slice(0, 24)}...`),
          ],
          hint: `if ${label} was really replaced, delete the lines for ${host} from ${file} and try again; otherwise someone may be intercepting the connection`,
        },
      );
    }
    const line = `${host} ${keyType} ${key}${instanceId ? ` ${instanceId}` : ''}\n`;
    await writeAtomically(file, text && !text.endsWith('\n') ? `${text}\n${line}` : `${text}${line}`);
    return stale ? 'repinned' : 'pinned';
  });
}

/** Removes every pinned key of `hosts` (nodes that were terminated: their addresses get reused). */
export function forgetHosts(file: string, hosts: readonly string[]): Promise<number> {
  return serialized(file, async () => {
    const text = await readText(file);
    if (!text) return 0;
    const drop = new Set(hosts);
    let removed = 0;
    const kept = text.split('\n').filter((raw) => {
      const host = raw.trim().split(/\s+/)[0] ?? '';
      const gone = host.split(',').some((h) => drop.has(h));
      if (gone) removed += 1;
      return !gone;
    });
    if (removed > 0) await writeAtomically(file, kept.join('\n'));
    return removed;
  });
}
