import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { JobError } from '../errors.js';
import { starclusterHome } from '../paths.js';
import { execChecked, type RemoteHost } from '../remote/types.js';
import { shellQuote as q } from '../shell.js';

/**
 * Node.js for nodes that have none. The engine runtime needs Node ≥ 20; a stock AMI has no Node
 * at all (Debian, Amazon Linux) or an old one (Ubuntu 22.04's 12). Rather than asking the user to
 * bake an image, the runtime brings its own:
 *
 * - Which binary, for a node of architecture ARCH (x64 or arm64):
 *   1. `STARCLUSTER_NODE_BINARY_<ARCH>` (e.g. STARCLUSTER_NODE_BINARY_ARM64): a Linux node binary
 *      the user chose, or an official `node-vX-linux-ARCH.tar.gz`/`.tar.xz` to take bin/node from;
 *   2. this client's own `node` (process.execPath) when it is a Linux binary of the same
 *      architecture and self-contained (no libnode.so: distribution builds that link one are skipped);
 *   3. the official build of this client's Node version for ARCH, from the local cache
 *      (`~/.starcluster/cache/node/`), else downloaded from nodejs.org/dist
 *      (`$STARCLUSTER_NODE_DIST` for a mirror) and checked against that release's SHASUMS256.txt.
 *      This is how an x64 laptop brings Node to Graviton (arm64) nodes. Official builds need
 *      glibc ≥ 2.28: every supported image has it (Debian 12: 2.36, Ubuntu 22.04: 2.35, AL2023: 2.34).
 * - How it travels: gzip-compressed once into the local cache, uploaded over SFTP once, to the
 *   master, then each other node pulls it from the master over the cluster's private network (the
 *   root key setup installed between nodes), so a laptop's uplink carries it once per cluster,
 *   not once per node. Every copy is checked against the binary's sha256 before it is used.
 * - Where: `ROOT/node/vVERSION-linux-ARCH/bin/node` (ROOT = /opt/starcluster), the path the
 *   controller, engines, supervisors and pipeline workers are started with. A node whose own
 *   `node` is ≥ 20 uses that, and nothing is uploaded to it.
 */

export const NODE_MIN_MAJOR = 20;

export interface NodeBinary {
  /** `v20.20.2`. */
  version: string;
  arch: string;
  /** sha256 (hex) of the uncompressed binary. */
  sha256: string;
  /** The gzip-compressed binary in the local cache (what is uploaded). */
  gz: string;
  /** Where it came from, for messages: `this client's node`, a path, or a URL. */
  source: string;
}

const run = promisify(execFile);

export function nodeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(starclusterHome(env), 'cache', 'node');
}

/** `v20.20.2` → 20. */
export function nodeMajor(version: string): number {
  return Number(/^v?(\d+)\./.exec(version.trim())?.[1] ?? NaN);
}

/** The official build's file name for a version and our arch name. */
export function officialTarball(version: string, arch: string): string {
  return `node-${version}-linux-${arch}.tar.gz`;
}

/** The sha256 SHASUMS256.txt lists for `file`, if any. */
export function shasumFor(shasums: string, file: string): string | undefined {
  for (const line of shasums.split('\n')) {
    const [sum, name] = line.trim().split(/\s+/);
    if (name === file && sum && /^[0-9a-f]{64}$/.test(sum)) return sum;
  }
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** A Linux node binary that does not need libnode.so (Debian's own nodejs package does). */
async function selfContained(path: string): Promise<boolean> {
  try {
    const { stdout } = await run('ldd', [path], { timeout: 10_000 });
    return !/libnode\.so/.test(stdout);
  } catch {
    return true; // no ldd, or a static binary
  }
}

export interface NodeBinaryOptions {
  env?: NodeJS.ProcessEnv;
  /** For tests: the client's own binary, version, platform and arch. */
  self?: { path: string; version: string; platform: string; arch: string };
  /** For tests and mirrors: where official builds come from. */
  fetchFn?: typeof fetch;
}

/** This client's own Node: its binary, version, platform and arch. */
function thisNode(): NonNullable<NodeBinaryOptions['self']> {
  return { path: process.execPath, version: process.version, platform: process.platform, arch: process.arch };
}

/** The Node binary to bring to nodes of `arch` (see the module comment), compressed in the cache. */
export async function nodeBinaryFor(arch: string, options: NodeBinaryOptions = {}): Promise<NodeBinary> {
  const env = options.env ?? process.env;
  const self = options.self ?? thisNode();
  const cache = nodeCacheDir(env);
  await mkdir(cache, { recursive: true });

  const configured = env[`STARCLUSTER_NODE_BINARY_${arch.toUpperCase()}`];
  if (configured) {
    const binary = /\.tar\.(gz|xz)$/.test(configured) ? await extractNode(configured, cache) : configured;
    const version = await versionOf(binary, arch, self);
    return compressed(binary, version, arch, configured, cache);
  }
  if (self.platform === 'linux' && self.arch === arch && (await selfContained(self.path))) {
    return compressed(self.path, self.version, arch, `this client's node ${self.version}`, cache);
  }
  return compressed(
    await officialBinary(self.version, arch, cache, env, options.fetchFn ?? fetch),
    self.version,
    arch,
    `the official Node ${self.version} for linux-${arch}`,
    cache,
  );
}

/** The version a configured binary reports (run only when it can run here), else this client's. */
async function versionOf(binary: string, arch: string, self: { version: string; arch: string }): Promise<string> {
  if (arch === self.arch) {
    try {
      const { stdout } = await run(binary, ['--version'], { timeout: 10_000 });
      if (/^v\d+\.\d+\.\d+/.test(stdout.trim())) return stdout.trim();
    } catch {
      // fall through: it is named by the user; its version is only a folder name on the nodes
    }
  }
  const named = /node-(v\d+\.\d+\.\d+)-linux/.exec(binary)?.[1];
  return named ?? self.version;
}

/** bin/node out of an official tarball, into the cache. */
async function extractNode(tarball: string, cache: string): Promise<string> {
  const base = tarball
    .split('/')
    .pop()!
    .replace(/\.tar\.(gz|xz)$/, '');
  const out = join(cache, base, 'node');
  if (existsSync(out)) return out;
  const tmp = await mkdtemp(join(cache, 'extract-'));
  try {
    await run('tar', ['-xf', tarball, '-C', tmp, '--strip-components=2', `${base}/bin/node`], { timeout: 300_000 });
    await mkdir(join(cache, base), { recursive: true });
    await rename(join(tmp, 'node'), out);
  } catch (error) {
    throw new JobError('NodeBinaryUnavailable', `cannot take bin/node out of ${tarball}: ${(error as Error).message}`, {
      hint: `give an official node-vX-linux-ARCH.tar.gz, or the node binary itself`,
      cause: error,
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return out;
}

/** The official build from the cache, else downloaded and checked against SHASUMS256.txt. */
async function officialBinary(
  version: string,
  arch: string,
  cache: string,
  env: NodeJS.ProcessEnv,
  fetchFn: typeof fetch,
): Promise<string> {
  const file = officialTarball(version, arch);
  const base = file.replace(/\.tar\.gz$/, '');
  const cached = join(cache, base, 'node');
  if (existsSync(cached)) return cached;
  const dist = (env.STARCLUSTER_NODE_DIST ?? 'https://nodejs.org/dist').replace(/\/$/, '');
  const unavailable = (why: string, cause?: unknown): JobError =>
    new JobError('NodeBinaryUnavailable', `no Node.js for linux-${arch} nodes: ${why}`, {
      hint: `put an official ${file} (or its bin/node) on this machine and set STARCLUSTER_NODE_BINARY_${arch.toUpperCase()} to it, or use an image with Node ${NODE_MIN_MAJOR}+`,
      ...(cause ? { cause } : {}),
    });
  let tarball: Buffer;
  let expected: string | undefined;
  try {
    const sums = await fetchFn(`${dist}/${version}/SHASUMS256.txt`);
    if (!sums.ok) throw unavailable(`${dist}/${version}/SHASUMS256.txt answered ${sums.status}`);
    expected = shasumFor(await sums.text(), file);
    if (!expected) throw unavailable(`${dist}/${version}/SHASUMS256.txt lists no ${file}`);
    const response = await fetchFn(`${dist}/${version}/${file}`);
    if (!response.ok) throw unavailable(`${dist}/${version}/${file} answered ${response.status}`);
    tarball = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof JobError) throw error;
    throw unavailable(`downloading from ${dist} failed: ${(error as Error).message}`, error);
  }
  const actual = createHash('sha256').update(tarball).digest('hex');
  if (actual !== expected) throw unavailable(`${file} has sha256 ${actual}, SHASUMS256.txt says ${expected}`);
  const saved = join(cache, file);
  await writeFile(`${saved}.tmp`, tarball);
  await rename(`${saved}.tmp`, saved);
  return extractNode(saved, cache);
}

/** Compresses `binary` into the cache once (keyed by its sha256). */
async function compressed(
  binary: string,
  version: string,
  arch: string,
  source: string,
  cache: string,
): Promise<NodeBinary> {
  const info = await stat(binary).catch(() => undefined);
  if (!info?.isFile()) {
    throw new JobError('NodeBinaryUnavailable', `${binary} is not a file (${source})`);
  }
  // Hashing 100 MB takes a moment: remember it per path, size and mtime.
  const index = join(cache, 'hashes.json');
  const known = (await readFile(index, 'utf8').then(JSON.parse, () => ({}))) as Record<string, string>;
  const key = `${binary}:${info.size}:${info.mtimeMs}`;
  const sha256 = known[key] ?? (await sha256File(binary));
  if (!known[key]) {
    known[key] = sha256;
    await writeFile(`${index}.${process.pid}.tmp`, JSON.stringify(known));
    await rename(`${index}.${process.pid}.tmp`, index);
  }
  const gz = join(cache, `node-${version}-linux-${arch}-${sha256.slice(0, 16)}.gz`);
  if (!existsSync(gz)) {
    const tmp = `${gz}.${process.pid}.tmp`;
    await pipeline(createReadStream(binary), createGzip({ level: 6 }), createWriteStream(tmp));
    await chmod(tmp, 0o644);
    await rename(tmp, gz);
  }
  return { version, arch, sha256, gz, source };
}

/** EC2's architecture names (DescribeImages) → Node's. */
export function nodeArchOf(ec2Architecture: string | undefined): string | undefined {
  if (ec2Architecture === 'x86_64') return 'x64';
  if (ec2Architecture === 'arm64') return 'arm64';
  return undefined;
}

/**
 * Before launch: can a Node binary be had for nodes of each architecture, should their image lack
 * one? This client's own binary is checked, not copied; for another architecture the official
 * build is fetched into the cache now (it will be needed: no stock image has Node 20+).
 * `STARCLUSTER_NODE_BINARY_<ARCH>=none` says the images have their own. Returns the reasons not.
 */
export async function nodeBinaryProblems(
  architectures: readonly (string | undefined)[],
  options: NodeBinaryOptions = {},
): Promise<{ code: string; message: string }[]> {
  const env = options.env ?? process.env;
  const self = options.self ?? thisNode();
  const out: { code: string; message: string }[] = [];
  for (const arch of new Set(architectures.map(nodeArchOf).filter((a): a is string => !!a))) {
    const configured = env[`STARCLUSTER_NODE_BINARY_${arch.toUpperCase()}`];
    if (configured === 'none') continue;
    if (configured) {
      if (!existsSync(configured))
        out.push({
          code: 'NodeBinaryUnavailable',
          message: `STARCLUSTER_NODE_BINARY_${arch.toUpperCase()} names ${configured}, which does not exist`,
        });
      continue;
    }
    if (self.platform === 'linux' && self.arch === arch && (await selfContained(self.path))) continue;
    try {
      await nodeBinaryFor(arch, options);
    } catch (error) {
      out.push({
        code: 'NodeBinaryUnavailable',
        message: `${(error as Error).message} (${(error as JobError).hint ?? ''}; or STARCLUSTER_NODE_BINARY_${arch.toUpperCase()}=none if the image has Node ${NODE_MIN_MAJOR}+)`,
      });
    }
  }
  return out;
}

// --- on the nodes ------------------------------------------------------------------------------

/** Where a node's own copy lives: ROOT/node/vX-linux-ARCH (bin/node, and node.gz on the master). */
export function remoteNodeDir(root: string, binary: Pick<NodeBinary, 'version' | 'arch'>): string {
  return posix.join(root, 'node', `${binary.version}-linux-${binary.arch}`);
}

export function remoteNodePath(root: string, binary: Pick<NodeBinary, 'version' | 'arch'>): string {
  return posix.join(remoteNodeDir(root, binary), 'bin', 'node');
}

/** Prints `ok` when the installed binary is this one (exit 0 either way). */
export function nodeInstalledCommand(root: string, binary: NodeBinary): string {
  const path = remoteNodePath(root, binary);
  return `[ -x ${q(path)} ] && echo ${q(`${binary.sha256}  ${path}`)} | sha256sum -c --status 2>/dev/null && echo ok || true`;
}

/** Unpacks DIR/node.gz (already on the node) into DIR/bin/node, checked against its sha256. */
export function unpackNodeCommand(root: string, binary: NodeBinary, gz: string): string {
  const dir = remoteNodeDir(root, binary);
  const tmp = posix.join(dir, `node.${binary.sha256.slice(0, 12)}.tmp`);
  return [
    'set -e',
    `mkdir -p ${q(posix.join(dir, 'bin'))}`,
    `gunzip -c ${q(gz)} > ${q(tmp)}`,
    `echo ${q(`${binary.sha256}  ${tmp}`)} | sha256sum -c --status || { rm -f ${q(tmp)}; echo 'node binary: sha256 mismatch' >&2; exit 3; }`,
    `chmod 755 ${q(tmp)}`,
    `mv -f ${q(tmp)} ${q(remoteNodePath(root, binary))}`,
  ].join('\n');
}

/**
 * On a node: fetch the master's node.gz over the private network (root's cluster key, host keys
 * pinned by setup in /etc/ssh/ssh_known_hosts) and unpack it.
 */
export function pullNodeCommand(root: string, binary: NodeBinary, masterIp: string): string {
  const dir = remoteNodeDir(root, binary);
  const gz = posix.join(dir, 'node.gz');
  const part = `${gz}.part`;
  return [
    'set -e',
    `mkdir -p ${q(dir)}`,
    `ssh -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=yes root@${q(masterIp)} cat ${q(gz)} > ${q(part)}`,
    `mv -f ${q(part)} ${q(gz)}`,
    unpackNodeCommand(root, binary, gz).replace(/^set -e\n/, ''),
    `rm -f ${q(gz)}`,
  ].join('\n');
}

/** Puts node.gz on the master (once: kept there for the other nodes to pull). */
export async function uploadNodeGz(host: RemoteHost, root: string, binary: NodeBinary): Promise<string> {
  const dir = remoteNodeDir(root, binary);
  const gz = posix.join(dir, 'node.gz');
  const sum = `${binary.sha256}`;
  const have = await host.exec(`cat ${q(`${gz}.sha256`)} 2>/dev/null`);
  if (have.stdout.trim() !== sum) {
    const tmp = `${gz}.${process.pid}.tmp`;
    await execChecked(host, `mkdir -p ${q(dir)} && rm -f ${q(tmp)}`);
    await host.put(binary.gz, tmp);
    await execChecked(host, `mv -f ${q(tmp)} ${q(gz)} && echo ${q(sum)} > ${q(`${gz}.sha256`)}`);
  }
  return gz;
}
