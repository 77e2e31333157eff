import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import {
  nodeBinaryFor,
  nodeBinaryProblems,
  nodeInstalledCommand,
  nodeMajor,
  pullNodeCommand,
  remoteNodePath,
  shasumFor,
  unpackNodeCommand,
} from '../../../src/deploy/node-runtime.js';

// The binaries here are small stand-ins (a real node is 100 MB); the shell that unpacks and checks
// them on a node runs for real in a temp folder. The fleet test brings a real node to a Debian image.

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('the Node binary brought to nodes', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let fakeNode: string;
  const content = Buffer.from('#!/bin/sh\necho v20.99.0\n');
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-node-rt-'));
    env = { STARCLUSTER_HOME: join(dir, 'home') };
    fakeNode = join(dir, 'node');
    await writeFile(fakeNode, content, { mode: 0o755 });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("is the client's own node for the same architecture, compressed once, with its sha256", async () => {
    const self = { path: fakeNode, version: 'v20.99.0', platform: 'linux', arch: 'x64' };
    const binary = await nodeBinaryFor('x64', { env, self });
    expect(binary).toMatchObject({ version: 'v20.99.0', arch: 'x64', sha256: sha(content) });
    expect(binary.source).toBe("this client's node v20.99.0");
    expect(gunzipSync(await readFile(binary.gz))).toEqual(content);
    expect(binary.gz.startsWith(join(dir, 'home', 'cache', 'node'))).toBe(true);
    // Cached: the same file again.
    expect((await nodeBinaryFor('x64', { env, self })).gz).toBe(binary.gz);
  });

  it('for another architecture: the official build, checked against SHASUMS256.txt', async () => {
    // An official-looking tarball for arm64, served by a stand-in for nodejs.org.
    const base = 'node-v20.99.0-linux-arm64';
    await mkdir(join(dir, 'src', base, 'bin'), { recursive: true });
    await writeFile(join(dir, 'src', base, 'bin', 'node'), 'arm64 node');
    execFileSync('tar', ['-czf', join(dir, `${base}.tar.gz`), '-C', join(dir, 'src'), base]);
    const tarball = await readFile(join(dir, `${base}.tar.gz`));
    const asked: string[] = [];
    const serve = (sums: string): typeof fetch =>
      ((url: string) => {
        asked.push(url);
        if (url.endsWith('SHASUMS256.txt')) return Promise.resolve(new Response(sums));
        if (url.endsWith(`${base}.tar.gz`)) return Promise.resolve(new Response(tarball));
        return Promise.resolve(new Response('nope', { status: 404 }));
      }) as typeof fetch;
    const self = { path: fakeNode, version: 'v20.99.0', platform: 'linux', arch: 'x64' };

    const wrong = `${'0'.repeat(64)}  ${base}.tar.gz\n`;
    const error = await nodeBinaryFor('arm64', { env, self, fetchFn: serve(wrong) }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('NodeBinaryUnavailable');
    expect((error as Error).message).toContain(`${base}.tar.gz has sha256 ${sha(tarball)}, SHASUMS256.txt says 000`);
    expect((error as StarclusterError).hint).toContain('STARCLUSTER_NODE_BINARY_ARM64');

    const right = `${sha('other')}  node-v20.99.0-linux-x64.tar.gz\n${sha(tarball)}  ${base}.tar.gz\n`;
    const binary = await nodeBinaryFor('arm64', { env, self, fetchFn: serve(right) });
    expect(asked.at(-1)).toBe(`https://nodejs.org/dist/v20.99.0/${base}.tar.gz`);
    expect(binary).toMatchObject({ arch: 'arm64', version: 'v20.99.0', sha256: sha('arm64 node') });
    expect(gunzipSync(await readFile(binary.gz)).toString()).toBe('arm64 node');
    // From the cache the next time: nothing is downloaded.
    asked.length = 0;
    await nodeBinaryFor('arm64', { env, self, fetchFn: serve(right) });
    expect(asked).toEqual([]);
  });

  it('takes STARCLUSTER_NODE_BINARY_<ARCH> first', async () => {
    const self = { path: join(dir, 'unused'), version: 'v20.99.0', platform: 'linux', arch: 'x64' };
    const binary = await nodeBinaryFor('arm64', { env: { ...env, STARCLUSTER_NODE_BINARY_ARM64: fakeNode }, self });
    expect(binary.source).toBe(fakeNode);
    expect(binary.sha256).toBe(sha(content));
  });

  it('says what to do when no binary can be had (offline, another architecture)', async () => {
    const self = { path: fakeNode, version: 'v20.99.0', platform: 'darwin', arch: 'arm64' };
    const offline = (() => Promise.reject(new Error('getaddrinfo ENOTFOUND nodejs.org'))) as typeof fetch;
    const error = await nodeBinaryFor('x64', { env, self, fetchFn: offline }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('NodeBinaryUnavailable');
    expect((error as Error).message).toBe(
      'no Node.js for linux-x64 nodes: downloading from https://nodejs.org/dist failed: getaddrinfo ENOTFOUND nodejs.org',
    );
  });

  it('before launch: fine for our own architecture, a problem for another one it cannot fetch, unless =none', async () => {
    const self = { path: fakeNode, version: 'v20.99.0', platform: 'linux', arch: 'x64' };
    const offline = (() => Promise.reject(new Error('getaddrinfo ENOTFOUND nodejs.org'))) as typeof fetch;
    expect(await nodeBinaryProblems(['x86_64'], { env, self, fetchFn: offline })).toEqual([]);
    const problems = await nodeBinaryProblems(['x86_64', 'arm64', 'arm64'], { env, self, fetchFn: offline });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.code).toBe('NodeBinaryUnavailable');
    expect(problems[0]!.message).toMatch(
      /^no Node\.js for linux-arm64 nodes: downloading from https:\/\/nodejs\.org\/dist failed/,
    );
    expect(problems[0]!.message).toContain('STARCLUSTER_NODE_BINARY_ARM64=none if the image has Node 20+');
    const none = { ...env, STARCLUSTER_NODE_BINARY_ARM64: 'none' };
    expect(await nodeBinaryProblems(['arm64'], { env: none, self, fetchFn: offline })).toEqual([]);
  });

  it('reads versions and SHASUMS lines', () => {
    expect(nodeMajor('20.20.2')).toBe(20);
    expect(nodeMajor('v18.19.1\n')).toBe(18);
    expect(Number.isNaN(nodeMajor('none'))).toBe(true);
    expect(shasumFor(`${'a'.repeat(64)}  node-v1-linux-x64.tar.gz\n`, 'node-v1-linux-x64.tar.gz')).toBe('a'.repeat(64));
    expect(shasumFor('garbage', 'x')).toBeUndefined();
  });
});

describe('on a node: unpack, check, install (the shell, run here)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-node-remote-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const sh = (script: string): { code: number; out: string } => {
    try {
      return { code: 0, out: execFileSync('sh', ['-c', script], { encoding: 'utf8', stdio: 'pipe' }) };
    } catch (error) {
      return { code: (error as { status: number }).status, out: String((error as { stderr: unknown }).stderr) };
    }
  };

  it('installs a binary whose sha256 matches, refuses one that does not, and knows when it is installed', async () => {
    const body = Buffer.from('node binary bytes');
    const gz = join(dir, 'node.gz');
    execFileSync('sh', ['-c', `printf '%s' '${body.toString()}' | gzip -c > ${gz}`]);
    const binary = { version: 'v20.99.0', arch: 'x64', sha256: sha(body), gz, source: 'test' };
    const root = join(dir, 'opt');
    expect(sh(nodeInstalledCommand(root, binary)).out).toBe('');

    const bad = sh(unpackNodeCommand(root, { ...binary, sha256: sha('something else') }, gz));
    expect(bad.code).toBe(3);
    expect(bad.out).toContain('sha256 mismatch');

    expect(sh(unpackNodeCommand(root, binary, gz)).code).toBe(0);
    const path = remoteNodePath(root, binary);
    expect(path).toBe(join(root, 'node', 'v20.99.0-linux-x64', 'bin', 'node'));
    expect(await readFile(path)).toEqual(body);
    expect(sh(nodeInstalledCommand(root, binary)).out).toBe('ok\n');
  });

  it("pulls from the master's private address as root, with pinned host keys", () => {
    const binary = { version: 'v20.99.0', arch: 'x64', sha256: 'ab'.repeat(32), gz: '/x', source: 'test' };
    const script = pullNodeCommand('/opt/starcluster', binary, '198.18.0.10');
    expect(script).toContain(
      'ssh -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=yes root@198.18.0.10 cat /opt/starcluster/node/v20.99.0-linux-x64/node.gz',
    );
    expect(script).toContain('sha256sum -c --status');
  });
});
