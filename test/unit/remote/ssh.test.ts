import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteError } from '../../../src/errors.js';
import { StarclusterError } from '../../../src/errors.js';
import { connect, openTunnel, readPrivateKey, SshPool, waitForSsh } from '../../../src/remote/index.js';
import { freePort, sshdUnavailable, startSshd, type TestSshd } from './sshd-fixture.js';

// Real sshd on loopback: the SSH layer is tested against OpenSSH itself, not a fake.
const skip = sshdUnavailable();

describe.skipIf(skip)(`SSH layer against a real sshd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sshd: TestSshd;
  let work: string;
  let knownHosts: string;
  let pool: SshPool;
  const target = (): { alias: string; address: string; port: number } => ({
    alias: 'master',
    address: '127.0.0.1',
    port: sshd.port,
  });

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'sc-remote-'));
    knownHosts = join(work, 'clusters', 'c1', 'known_hosts');
    pool = new SshPool({ privateKey: await readPrivateKey(sshd.keyPath), knownHostsFile: knownHosts, concurrency: 4 });
  });
  afterAll(async () => {
    pool?.close();
    await sshd?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('runs commands with status, stderr and env, and pins the host key on first contact', async () => {
    const host = pool.host(target());
    const result = await host.exec('echo "$GREETING"; echo oops >&2; exit 7', { env: { GREETING: "it's here" } });
    expect(result).toEqual({ stdout: "it's here\n", stderr: 'oops\n', code: 7 });
    const pinned = await readFile(knownHosts, 'utf8');
    expect(pinned).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA`));
    expect((await stat(knownHosts)).mode & 0o777).toBe(0o600);
  });

  it('passes stdin and writes/reads files', async () => {
    const host = pool.host(target());
    expect((await host.exec('wc -c', { stdin: 'x'.repeat(70_000) })).stdout.trim()).toBe('70000');
    await host.writeFile(join(work, 'remote.txt'), 'hello\n', 0o640);
    expect((await host.readFile(join(work, 'remote.txt'))).toString()).toBe('hello\n');
    expect((await stat(join(work, 'remote.txt'))).mode & 0o777).toBe(0o640);
  });

  it('runs many commands at once through the bounded pool', async () => {
    const host = pool.host(target());
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => host.exec(`echo ${i}`)));
    expect(results.map((r) => Number(r.stdout))).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('kills a command that outlives its timeout with a clear RemoteError', async () => {
    const error = await pool
      .host(target())
      .exec('sleep 30', { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('RemoteTimeout');
    expect((error as Error).message).toContain('did not finish within');
  });

  it('copies directory trees both ways with progress', async () => {
    const src = join(work, 'tree');
    await mkdir(join(src, 'a', 'b'), { recursive: true });
    await writeFile(join(src, 'a', 'b', 'big.bin'), Buffer.alloc(300_000, 7));
    await writeFile(join(src, 'top.txt'), 'top');
    const events: number[] = [];
    const host = pool.host(target());
    await host.put(src, join(work, 'remote-tree'), { onProgress: (p) => events.push(p.totalTransferred) });
    expect(events.at(-1)).toBe(300_003);
    expect(events).toEqual([...events].sort((a, b) => a - b));
    await host.get(join(work, 'remote-tree'), join(work, 'back'));
    expect(await readdir(join(work, 'back', 'a', 'b'))).toEqual(['big.bin']);
    expect((await readFile(join(work, 'back', 'a', 'b', 'big.bin'))).equals(Buffer.alloc(300_000, 7))).toBe(true);
    expect(await readFile(join(work, 'back', 'top.txt'), 'utf8')).toBe('top');
  });

  it('forwards a local port on 127.0.0.1 to a port the node can reach', async () => {
    const connection = await pool.connection(target());
    const tunnel = await openTunnel(connection, '127.0.0.1', sshd.port);
    const banner = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port: tunnel.localPort });
      socket.once('data', (d) => {
        resolve(d.toString());
        socket.destroy();
      });
      socket.once('error', reject);
    });
    await tunnel.close();
    expect(banner).toMatch(/^SSH-2\.0-OpenSSH/);
  });

  it('runs an interactive login shell on a pty and returns its exit status', async () => {
    const connection = await pool.connection(target());
    const input = new PassThrough();
    const output = new PassThrough();
    let seen = '';
    output.on('data', (d: Buffer) => (seen += d.toString()));
    const done = connection.interactive({ input, output, term: 'vt100', rows: 30, cols: 100 });
    input.write('echo "term=$TERM tty=$(tty | cut -c1-8) size=$(stty size)"; exit 4\n');
    expect(await done).toBe(4);
    expect(seen).toContain('term=vt100 tty=/dev/pts size=30 100');
  });

  it('refuses a changed host key, naming the host and the file to edit', async () => {
    pool.close();
    await sshd.rekey();
    const error = await connect({
      ...target(),
      user: 'root',
      privateKey: await readPrivateKey(sshd.keyPath),
      knownHostsFile: knownHosts,
    }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('HostKeyChanged');
    expect((error as RemoteError).message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect((error as RemoteError).message).toContain(knownHosts);
    expect((error as RemoteError).hint).toContain(`delete the lines for [127.0.0.1]:${sshd.port}`);
    // waitForSsh does not retry what waiting cannot fix.
    const waited = await waitForSsh(
      { ...target(), user: 'root', privateKey: await readPrivateKey(sshd.keyPath), knownHostsFile: knownHosts },
      { timeoutMs: 20_000 },
    ).catch((e: unknown) => e);
    expect(StarclusterError.is(waited) && waited.code).toBe('HostKeyChanged');
  });

  it('times out on a missing sshd with a clear message instead of hanging', async () => {
    const port = await freePort(); // nothing listens here
    const error = await waitForSsh(
      {
        alias: 'node009',
        address: '127.0.0.1',
        port,
        user: 'root',
        privateKey: await readPrivateKey(sshd.keyPath),
        knownHostsFile: knownHosts,
      },
      { timeoutMs: 1_500, initialDelayMs: 100 },
    ).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('SshTimeout');
    expect((error as Error).message).toMatch(
      new RegExp(
        `node009 \\(127\\.0\\.0\\.1:${port}\\) did not accept ssh within 2s after \\d+ attempts; last error: .*ECONNREFUSED`,
      ),
    );
  });

  it('refuses a private key other users can read', async () => {
    const loose = join(work, 'loose.pem');
    await writeFile(loose, await readFile(sshd.keyPath));
    await chmod(loose, 0o644);
    const error = await readPrivateKey(loose).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('PrivateKeyPermissions');
    expect((error as Error).message).toContain(`chmod 600 ${loose}`);
  });
});
