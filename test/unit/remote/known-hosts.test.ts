import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { checkHostKey, forgetHosts, keyTypeOf, knownHostsName } from '../../../src/remote/known-hosts.js';

function blob(type: string, body: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(body)]);
}

describe('known_hosts pinning', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-kh-'));
    file = join(dir, 'c', 'known_hosts');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('pins on first contact, then matches', async () => {
    const key = blob('ssh-ed25519', 'one');
    expect(await checkHostKey(file, '198.18.0.4', key)).toBe('pinned');
    expect(await checkHostKey(file, '198.18.0.4', key)).toBe('match');
    expect(await readFile(file, 'utf8')).toBe(`198.18.0.4 ssh-ed25519 ${key.toString('base64')}\n`);
  });

  it('keeps every line when many nodes are pinned at once', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => checkHostKey(file, `198.18.0.${i + 4}`, blob('ssh-ed25519', `k${i}`))),
    );
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(20);
  });

  it('refuses a different key for a pinned host', async () => {
    await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'one'));
    const error = await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'two'), 'node001').catch(
      (e: unknown) => e,
    );
    expect(StarclusterError.is(error) && error.code).toBe('HostKeyChanged');
    expect((error as Error).message).toBe(
      `host key for node001 (198.18.0.4) has changed: it does not match the key pinned in ${file}`,
    );
  });

  it('forgets removed hosts so a reused address can be pinned again', async () => {
    await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'one'));
    await checkHostKey(file, '198.18.0.5', blob('ssh-ed25519', 'two'));
    expect(await forgetHosts(file, ['198.18.0.4'])).toBe(1);
    expect(await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'new'))).toBe('pinned');
    expect(await checkHostKey(file, '198.18.0.5', blob('ssh-ed25519', 'two'))).toBe('match');
  });

  it('re-pins an address taken over by a new instance, but never a changed key of the same instance', async () => {
    await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'old'), 'node001', 'i-old');
    expect(await readFile(file, 'utf8')).toContain(' i-old\n');
    const same = await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'evil'), 'node001', 'i-old').catch(
      (e: unknown) => e,
    );
    expect(StarclusterError.is(same) && same.code).toBe('HostKeyChanged');
    expect(await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'new'), 'node001', 'i-new')).toBe('repinned');
    expect(await checkHostKey(file, '198.18.0.4', blob('ssh-ed25519', 'new'), 'node001', 'i-new')).toBe('match');
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('spells non-default ports as OpenSSH does and reads key types', () => {
    expect(knownHostsName('10.0.0.1')).toBe('10.0.0.1');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(keyTypeOf(blob('ecdsa-sha2-nistp256', 'x'))).toBe('ecdsa-sha2-nistp256');
  });
});
