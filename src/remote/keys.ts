import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ssh2 from 'ssh2';

const { utils } = ssh2;
import { RemoteError } from '../errors.js';

/**
 * Reads a private key for SSH. Like OpenSSH, refuses a key other users can read: a key with
 * group/other permission bits is an error that names the file and the chmod that fixes it.
 */
export async function readPrivateKey(path: string): Promise<Buffer> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    throw new RemoteError('PrivateKeyMissing', `private key ${path} cannot be read: ${(error as Error).message}`, {
      hint: 'set KEY_LOCATION in the [key] section to the .pem file EC2 gave you',
      cause: error,
    });
  }
  if ((mode & 0o077) !== 0) {
    throw new RemoteError(
      'PrivateKeyPermissions',
      `private key ${path} is readable by others (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${path}`,
    );
  }
  const key = await readFile(path);
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) {
    throw new RemoteError('PrivateKeyInvalid', `private key ${path} is not a key ssh can use: ${parsed.message}`, {
      hint: 'keys with a passphrase are not supported; use the unencrypted .pem file',
    });
  }
  return key;
}

export interface KeyPairText {
  /** OpenSSH private key (PEM-like text). */
  privateKey: string;
  /** One `authorized_keys` line: `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
}

export function generateKeyPair(comment: string): KeyPairText {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}

/**
 * The cluster's own key (for root and the cluster user between nodes), kept in the cluster's
 * state folder as `id_ed25519` (0600) and `id_ed25519.pub`. Made once, then reused.
 */
export async function clusterKeyPair(stateDir: string, cluster: string): Promise<KeyPairText & { path: string }> {
  const path = join(stateDir, 'id_ed25519');
  try {
    const privateKey = (await readPrivateKey(path)).toString('utf8');
    const publicKey = (await readFile(`${path}.pub`, 'utf8')).trim();
    return { privateKey, publicKey, path };
  } catch (error) {
    if (RemoteError.is(error) && error.code !== 'PrivateKeyMissing') throw error;
  }
  const pair = generateKeyPair(`starcluster-${cluster}`);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, pair.privateKey, { mode: 0o600 });
  await chmod(path, 0o600);
  await writeFile(`${path}.pub`, `${pair.publicKey}\n`, { mode: 0o644 });
  return { ...pair, path };
}

/** The `authorized_keys` line of a private key's public half (e.g. the EC2 key we log in with). */
export function publicKeyLine(privateKey: Buffer | string, comment = ''): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error)
    throw new RemoteError(
      'PrivateKeyInvalid',
      `not a key ssh can use: ${key instanceof Error ? key.message : 'empty'}`,
    );
  return `${key.type} ${key.getPublicSSH().toString('base64')}${comment ? ` ${comment}` : ''}`;
}
