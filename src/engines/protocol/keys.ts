import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { JobError } from '../../errors.js';
import { registerSecret } from '../../secrets.js';
import { isCurveKey } from './z85.js';

/** A CURVE key pair as 40-character Z85 text. */
export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/**
 * A cluster's CURVE keys: the controller's server pair, one pair shared by the cluster's clients and
 * one shared by its engines. Made per cluster at `start`, kept 0600 under the cluster's state dir.
 */
export interface ClusterKeys {
  server: CurveKeyPair;
  client: CurveKeyPair;
  engine: CurveKeyPair;
}

/** What the controller needs: its own pair and the public keys it admits (per role). */
export interface ControllerKeys {
  server: CurveKeyPair;
  clientPublicKeys: string[];
  enginePublicKeys: string[];
}

/** What an engine or a client needs: the controller's public key and its own pair. */
export interface PeerKeys {
  serverPublicKey: string;
  publicKey: string;
  secretKey: string;
}

/** File names under the keys dir; an engine node gets only `curve-engine.json`. */
export const KEY_FILES = {
  controller: 'curve-controller.json',
  engine: 'curve-engine.json',
  client: 'curve-client.json',
} as const;

export function newClusterKeys(): ClusterKeys {
  const keys = { server: curveKeyPair(), client: curveKeyPair(), engine: curveKeyPair() };
  for (const pair of Object.values(keys)) registerSecret(pair.secretKey);
  return keys;
}

export function controllerKeysOf(keys: ClusterKeys | ControllerKeys): ControllerKeys {
  if ('clientPublicKeys' in keys) return keys;
  return { server: keys.server, clientPublicKeys: [keys.client.publicKey], enginePublicKeys: [keys.engine.publicKey] };
}

export function engineKeysOf(keys: ClusterKeys | PeerKeys): PeerKeys {
  if ('serverPublicKey' in keys) return keys;
  return { serverPublicKey: keys.server.publicKey, ...keys.engine };
}

export function clientKeysOf(keys: ClusterKeys | PeerKeys): PeerKeys {
  if ('serverPublicKey' in keys) return keys;
  return { serverPublicKey: keys.server.publicKey, ...keys.client };
}

async function writeSecretJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile keeps an existing file's mode
}

/** Makes new keys and writes the three role files (dir 0700, files 0600). */
export async function generateClusterKeys(dir: string): Promise<ClusterKeys> {
  const keys = newClusterKeys();
  await writeClusterKeys(dir, keys);
  return keys;
}

export async function writeClusterKeys(dir: string, keys: ClusterKeys): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeSecretJson(join(dir, KEY_FILES.controller), controllerKeysOf(keys));
  await writeSecretJson(join(dir, KEY_FILES.engine), engineKeysOf(keys));
  await writeSecretJson(join(dir, KEY_FILES.client), clientKeysOf(keys));
}

/** Loads the cluster's keys, generating them first if the dir has none. */
export async function ensureClusterKeys(dir: string): Promise<ClusterKeys> {
  try {
    return await loadClusterKeys(dir);
  } catch (error) {
    if ((error as { code?: string }).code !== 'CurveKeysMissing') throw error;
    return generateClusterKeys(dir);
  }
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new JobError('CurveKeysMissing', `no CURVE keys at ${path}: start the cluster (it makes them)`, {
        cause: error,
      });
    }
    throw new JobError('CurveKeysUnreadable', `cannot read CURVE keys ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new JobError('CurveKeysInvalid', `CURVE keys file ${path} is not JSON: delete it and restart the cluster`, {
      cause: error,
    });
  }
}

function key(path: string, obj: unknown, field: string): string {
  const value = (obj as Record<string, unknown> | undefined)?.[field];
  if (!isCurveKey(value)) {
    throw new JobError('CurveKeysInvalid', `CURVE keys file ${path}: ${field} is not a 40-character Z85 key`);
  }
  return value;
}

function keyList(path: string, obj: Record<string, unknown>, field: string): string[] {
  const value = obj[field];
  if (!Array.isArray(value) || value.length === 0) {
    throw new JobError('CurveKeysInvalid', `CURVE keys file ${path}: ${field} must be a non-empty list of keys`);
  }
  return value.map((_, i) => key(path, value, String(i)));
}

export async function loadControllerKeys(path: string): Promise<ControllerKeys> {
  const raw = await readJson(path);
  const server = { publicKey: key(path, raw.server, 'publicKey'), secretKey: key(path, raw.server, 'secretKey') };
  registerSecret(server.secretKey);
  return {
    server,
    clientPublicKeys: keyList(path, raw, 'clientPublicKeys'),
    enginePublicKeys: keyList(path, raw, 'enginePublicKeys'),
  };
}

/** Loads `curve-engine.json` or `curve-client.json`. */
export async function loadPeerKeys(path: string): Promise<PeerKeys> {
  const raw = await readJson(path);
  const keys = {
    serverPublicKey: key(path, raw, 'serverPublicKey'),
    publicKey: key(path, raw, 'publicKey'),
    secretKey: key(path, raw, 'secretKey'),
  };
  registerSecret(keys.secretKey);
  return keys;
}

export async function loadClusterKeys(dir: string): Promise<ClusterKeys> {
  const controller = await loadControllerKeys(join(dir, KEY_FILES.controller));
  const engine = await loadPeerKeys(join(dir, KEY_FILES.engine));
  const client = await loadPeerKeys(join(dir, KEY_FILES.client));
  return {
    server: controller.server,
    engine: { publicKey: engine.publicKey, secretKey: engine.secretKey },
    client: { publicKey: client.publicKey, secretKey: client.secretKey },
  };
}
