import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { NodeRecord } from '../cloud/provider.js';
import type { ClusterContext } from '../model/context.js';
import { JobError, throwIfAborted } from '../errors.js';
import type { IoHost } from '../io-host.js';
import type { RemoteHost } from '../remote/types.js';
import { clusterStateDir, starclusterHome } from '../paths.js';
import { nodeEntryCommand } from '../cloud/local/entry.js';
import { readNodeStatus, writeDesired } from '../cloud/local/index.js';
import type { DesiredProcess } from '../cloud/local/node/files.js';
import { readJson, writeJsonAtomic } from '../cloud/local/node/files.js';
import { Client } from './client/client.js';
import { startController } from './controller/controller.js';
import { ensureClusterKeys, KEY_FILES, loadPeerKeys, newClusterKeys, engineKeysOf } from './protocol/keys.js';
import { shellQuote as q } from '../shell.js';
import type { NodeAccess, SetupNode } from '../setup/session.js';
import {
  NODE_MIN_MAJOR,
  nodeBinaryFor,
  nodeInstalledCommand,
  nodeMajor,
  pullNodeCommand,
  remoteNodePath,
  unpackNodeCommand,
  uploadNodeGz,
  type NodeBinary,
} from './node-runtime.js';

export { Client };

/**
 * The engine runtime on a cluster: a controller on the master and ENGINES_PER_NODE engines on
 * every node. For PROVIDER = local they are processes kept alive by each local node's supervisor
 * (src/cloud/local/node); for ec2 the bundled runtime is uploaded over SFTP and started under a
 * small supervisor.
 *
 * Contract for src/cluster: idempotent; `startEngines` returns once every engine has registered
 * (or throws a JobError naming the nodes whose engines did not).
 *
 * What a running runtime looks like is recorded in `STATE_DIR/engines.json` (EngineState), with
 * the CURVE keys next to it (curve-*.json, 0600): that is all a client needs to connect.
 */
export const ENGINE_STATE_FILE = 'engines.json';

export interface EngineState {
  provider: 'local' | 'ec2';
  /** Where the controller runs: the master's private IP (127.0.0.1 for local). */
  host: string;
  clientPort: number;
  enginePort: number;
  /** Engines per node alias. */
  engines: Record<string, number>;
  startedAt: string;
  /** ec2: how the client reaches the master to tunnel to the controller. */
  ssh?: { address: string; user: string; keyPath: string; knownHosts: string };
  /** ec2: the address the client SSHes to, per node alias (pipeline mode starts workers there). */
  addresses?: Record<string, string>;
  /** ec2: the Node each node runs the runtime with, per alias: `node` (the image's) or our copy's path. */
  node?: Record<string, string>;
  /** ec2: the user engines, the controller and pipeline workers run as (CLUSTER_USER); root only sets up. */
  runAs?: string;
}

/** How long `startEngines` waits for every engine to register. */
const REGISTER_TIMEOUT_MS = 60_000;

const controllerEntry = (): string[] =>
  nodeEntryCommand(new URL('./controller/main.js', import.meta.url), ['--enable-source-maps']);
const engineEntry = (): string[] =>
  nodeEntryCommand(new URL('./engine/main.js', import.meta.url), ['--enable-source-maps']);

function engineArgv(endpoint: string, keyFile: string, node: string): string[] {
  return [...engineEntry(), '--controller', endpoint, '--keys', keyFile, '--node', node];
}

function controllerArgv(host: string, clientPort: number, enginePort: number, keyFile: string): string[] {
  return [
    ...controllerEntry(),
    '--host',
    host,
    '--port',
    String(clientPort),
    '--engine-port',
    String(enginePort),
    '--keys',
    keyFile,
  ];
}

/** ENGINES_PER_NODE, or the default: 1 per local node (they share this machine's cores). */
export function enginesPerNode(ctx: Pick<ClusterContext, 'template' | 'provider'>): number {
  return Math.max(1, ctx.template.enginesPerNode ?? 1);
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function readEngineState(stateDir: string): Promise<EngineState | undefined> {
  return readJson<EngineState>(join(stateDir, ENGINE_STATE_FILE));
}

function engineProcesses(state: EngineState, stateDir: string, alias: string): DesiredProcess[] {
  const endpoint = `tcp://${state.host}:${state.enginePort}`;
  const keyFile = join(stateDir, KEY_FILES.engine);
  const out: DesiredProcess[] = [];
  for (let i = 1; i <= (state.engines[alias] ?? 0); i++) {
    out.push({ name: `engine-${i}`, argv: engineArgv(endpoint, keyFile, alias), maxRestarts: 5 });
  }
  return out;
}

async function writeNodeDesired(state: EngineState, stateDir: string, alias: string): Promise<void> {
  const processes = engineProcesses(state, stateDir, alias);
  if (alias === 'master') {
    processes.unshift({
      name: 'controller',
      argv: controllerArgv(state.host, state.clientPort, state.enginePort, join(stateDir, KEY_FILES.controller)),
      maxRestarts: 3,
    });
  }
  await writeDesired(stateDir, alias, { processes });
}

async function connectLocal(state: EngineState, stateDir: string, timeoutMs = 10_000): Promise<Client> {
  const keys = await loadPeerKeys(join(stateDir, KEY_FILES.client));
  return Client.connect({ endpoint: `tcp://${state.host}:${state.clientPort}`, keys, timeoutMs });
}

/** Waits until `expected` engines are registered; the error names the nodes short of engines. */
async function waitForAll(client: Client, state: EngineState, signal?: AbortSignal): Promise<void> {
  const expected = Object.values(state.engines).reduce((a, b) => a + b, 0);
  const abort = new Promise<never>((_, reject) => {
    signal?.addEventListener('abort', () => reject(new JobError('Interrupted', 'interrupted')), { once: true });
  });
  abort.catch(() => undefined);
  try {
    await Promise.race([client.waitForEngines(expected, REGISTER_TIMEOUT_MS), abort]);
  } catch (error) {
    throwIfAborted(signal);
    const have = new Map<string, number>();
    for (const e of client.engines) have.set(e.node, (have.get(e.node) ?? 0) + 1);
    const short = Object.entries(state.engines)
      .filter(([alias, n]) => (have.get(alias) ?? 0) < n)
      .map(([alias, n]) => `${alias} (${have.get(alias) ?? 0} of ${n})`);
    throw new JobError('EnginesDidNotStart', `engines did not register on ${short.join(', ') || 'some nodes'}`, {
      hint: 'see the engine-*.log files under the cluster state dir (nodes/ALIAS/)',
      cause: error,
    });
  }
}

async function startLocalEngines(ctx: ClusterContext, signal?: AbortSignal): Promise<void> {
  await ensureClusterKeys(ctx.stateDir);
  const previous = await readEngineState(ctx.stateDir);
  const perNode = enginesPerNode(ctx);
  const host = '127.0.0.1';
  const state: EngineState = {
    provider: 'local',
    host,
    clientPort: previous?.clientPort ?? (await freePort(host)),
    enginePort: previous?.enginePort ?? (await freePort(host)),
    engines: Object.fromEntries(ctx.nodes.map((n) => [n.alias, perNode])),
    startedAt: previous?.startedAt ?? new Date().toISOString(),
  };
  if (!ctx.nodes.some((n) => n.alias === 'master')) {
    throw new JobError('NoMaster', `cluster ${ctx.name} has no running master: the controller runs there`, {
      hint: `starcluster terminate ${ctx.name} && starcluster start ${ctx.name}`,
    });
  }
  await writeJsonAtomic(join(ctx.stateDir, ENGINE_STATE_FILE), state);
  for (const node of ctx.nodes) await writeNodeDesired(state, ctx.stateDir, node.alias);
  ctx.io.notify({
    level: 'debug',
    code: 'SC_ENGINES_D0001',
    message: `controller on ${host}:${state.clientPort}, ${perNode} engine(s) on each of ${ctx.nodes.length} node(s)`,
  });
  throwIfAborted(signal);
  const client = await connectWithRetry(state, ctx.stateDir, signal);
  try {
    await waitForAll(client, state, signal);
  } finally {
    await client.close();
  }
}

/** The controller process takes a moment to bind after its supervisor starts it. */
async function connectWithRetry(state: EngineState, stateDir: string, signal?: AbortSignal): Promise<Client> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    throwIfAborted(signal);
    try {
      return await connectLocal(state, stateDir, 3_000);
    } catch (error) {
      if (Date.now() > deadline) {
        throw new JobError(
          'ControllerDidNotStart',
          `the controller did not answer on ${state.host}:${state.clientPort}`,
          {
            hint: 'see nodes/master/controller.log under the cluster state dir',
            cause: error,
          },
        );
      }
    }
  }
}

export async function startEngines(ctx: ClusterContext, signal?: AbortSignal): Promise<void> {
  if (ctx.provider.kind === 'local') return startLocalEngines(ctx, signal);
  return startRemoteEngines(ctx, undefined, signal);
}

/** After nodes were added: start their engines. */
export async function addEngines(ctx: ClusterContext, added: NodeRecord[], signal?: AbortSignal): Promise<void> {
  if (ctx.provider.kind !== 'local') return startRemoteEngines(ctx, added, signal);
  const state = await readEngineState(ctx.stateDir);
  if (!state) return startLocalEngines(ctx, signal);
  const perNode = enginesPerNode(ctx);
  for (const node of added) state.engines[node.alias] = perNode;
  await writeJsonAtomic(join(ctx.stateDir, ENGINE_STATE_FILE), state);
  for (const node of added) await writeNodeDesired(state, ctx.stateDir, node.alias);
  const client = await connectWithRetry(state, ctx.stateDir, signal);
  try {
    await waitForAll(client, state, signal);
  } finally {
    await client.close();
  }
}

/** Before nodes are removed (or, with no list, before terminate/stop): stop their engines. */
export async function stopEngines(ctx: ClusterContext, nodes?: NodeRecord[]): Promise<void> {
  if (ctx.provider.kind !== 'local') return stopRemoteEngines(ctx, nodes);
  const state = await readEngineState(ctx.stateDir);
  const aliases = nodes ? nodes.map((n) => n.alias) : ctx.nodes.map((n) => n.alias);
  for (const alias of aliases) {
    await writeDesired(ctx.stateDir, alias, { processes: [] });
    if (state) delete state.engines[alias];
  }
  if (!nodes) {
    // The whole runtime is going: its keys go too (a new start makes new ones).
    await rm(join(ctx.stateDir, ENGINE_STATE_FILE), { force: true });
    for (const file of Object.values(KEY_FILES)) await rm(join(ctx.stateDir, file), { force: true });
  } else if (state) {
    await writeJsonAtomic(join(ctx.stateDir, ENGINE_STATE_FILE), state);
  }
  // Give supervisors a moment to stop their children; terminate kills whatever remains.
  const deadline = Date.now() + 5_000;
  for (const alias of aliases) {
    while (Date.now() < deadline) {
      const status = await readNodeStatus(ctx.stateDir, alias);
      if (!status || status.children.every((c) => c.state !== 'running' && c.state !== 'restarting')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Clusters with a runtime this machine can reach: local ones whose controller is alive, and ec2 ones. */
export async function listRunningClusters(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(starclusterHome(env), 'clusters'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const dir = clusterStateDir(name, env);
    const state = await readEngineState(dir);
    if (!state) continue;
    if (state.provider === 'local') {
      const status = await readNodeStatus(dir, 'master');
      const controller = status?.children.find((c) => c.name === 'controller');
      if (!controller?.pid || controller.state !== 'running' || !isAlive(controller.pid)) continue;
    }
    out.push(name);
  }
  return out;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A connected Client for the cluster (local: straight to 127.0.0.1; ec2: through an SSH tunnel). */
export async function connectToCluster(
  cluster: ClusterContext | string,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Client> {
  const name = typeof cluster === 'string' ? cluster : cluster.name;
  const stateDir = typeof cluster === 'string' ? clusterStateDir(cluster, options.env) : cluster.stateDir;
  const state = await readEngineState(stateDir);
  if (!state) {
    throw new JobError('EnginesNotRunning', `cluster ${name} has no engine runtime running`, {
      hint: `start it: starcluster start ${name}`,
    });
  }
  if (state.provider !== 'local') return connectRemote(state, stateDir);
  return connectLocal(state, stateDir);
}

export interface ThrowawayCluster {
  client: Client;
  close(): Promise<void>;
}

/**
 * `run --local -n N`: a controller in this process on 127.0.0.1 with fresh keys, N engine
 * processes, and a connected client; `close` stops all of it and deletes the keys.
 */
export async function startThrowawayCluster(options: {
  engines: number;
  io: IoHost;
  signal?: AbortSignal | undefined;
}): Promise<ThrowawayCluster> {
  const { io } = options;
  const id = 'local:cluster';
  const title = `start a local cluster of ${options.engines} engine${options.engines === 1 ? '' : 's'}`;
  io.progress({ id, state: 'start', title });
  const keys = newClusterKeys();
  const dir = await mkdtemp(join(tmpdir(), 'starcluster-local-'));
  const keyFile = join(dir, KEY_FILES.engine);
  await writeFile(keyFile, JSON.stringify(engineKeysOf(keys)), { mode: 0o600 });
  const controller = await startController({ host: '127.0.0.1', port: 0, enginePort: 0, keys });
  const children: ChildProcess[] = [];
  let client: Client | undefined;
  const close = async (): Promise<void> => {
    await client?.close().catch(() => undefined);
    await controller.close({ stopEngines: true }).catch(() => undefined);
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= options.engines; i++) {
      const [command, ...args] = engineArgv(controller.engineEndpoint, keyFile, 'local');
      const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      child.once('exit', (code, signal) => {
        if (code !== 0 && code !== null)
          io.notify({
            level: 'debug',
            code: 'SC_LOCAL_D0001',
            message: `engine ${i} exited ${code}: ${stderr.trim()}`,
          });
        void signal;
      });
      children.push(child);
    }
    client = await Client.connect({ endpoint: controller.clientEndpoint, keys });
    await waitForAll(
      client,
      {
        provider: 'local',
        host: '127.0.0.1',
        clientPort: 0,
        enginePort: 0,
        engines: { local: options.engines },
        startedAt: '',
      },
      options.signal,
    );
  } catch (error) {
    io.progress({ id, state: 'fail', title, detail: (error as Error).message });
    await close();
    throw error;
  }
  io.progress({ id, state: 'done', title });
  const connected = client;
  return { client: connected, close };
}

// ---------------------------------------------------------------------------------------------
// EC2 (and fleet) clusters: the runtime is uploaded to every node and run under the same small
// supervisor local nodes use; the client reaches the controller through an SSH tunnel.
// ---------------------------------------------------------------------------------------------

/**
 * Where the runtime and the cluster's runtime state live on a node (we log in as root).
 * $STARCLUSTER_REMOTE_ROOT overrides it (tests whose "nodes" share this machine's disk).
 */
export const remoteRoot = (env: NodeJS.ProcessEnv = process.env): string =>
  env.STARCLUSTER_REMOTE_ROOT ?? '/opt/starcluster';
/** The controller's ports on the master's private IP; open only inside the cluster's security group. */
export const REMOTE_CLIENT_PORT = 41000;
export const REMOTE_ENGINE_PORT = 41001;

export interface EngineRuntimePackage {
  /** Local folder: engine.mjs, controller.mjs, supervisor.mjs, package.json, node_modules/zeromq. */
  dir: string;
  hash: string;
  arch: string;
}

const RUNTIME_BANNER = [
  "import { createRequire as __starclusterCreateRequire } from 'node:module';",
  'const require = __starclusterCreateRequire(import.meta.url);',
].join('\n');

/** Our entry module as a file esbuild can read: compiled .js under dist/, else the .ts source. */
function entryFile(url: URL): string {
  const js = fileURLToPath(url);
  return existsSync(js) ? js : js.replace(/\.js$/, '.ts');
}

function zeromqDirs(): { zeromq: string; cmakeTs: string } {
  const zeromq = dirname(fileURLToPath(import.meta.resolve('zeromq/package.json')));
  let cmakeTs = join(zeromq, 'node_modules', 'cmake-ts');
  if (!existsSync(cmakeTs)) cmakeTs = resolve(zeromq, '..', 'cmake-ts');
  return { zeromq, cmakeTs };
}

/**
 * One folder that runs the engine runtime on any Linux node with Node 20+: the controller, engine
 * and supervisor entry points bundled by esbuild (zeromq external), plus zeromq's JavaScript and
 * its prebuilt addon for the node's architecture. Built once per content and cached.
 */
export async function buildEngineRuntime(arch = 'x64', cacheRoot?: string): Promise<EngineRuntimePackage> {
  const result = await build({
    entryPoints: {
      engine: entryFile(new URL('./engine/main.js', import.meta.url)),
      controller: entryFile(new URL('./controller/main.js', import.meta.url)),
      supervisor: entryFile(new URL('../cloud/local/node/main.js', import.meta.url)),
      'pipeline-worker': entryFile(new URL('./pipeline/worker-main.js', import.meta.url)),
    },
    bundle: true,
    write: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['zeromq'],
    outdir: 'out',
    outExtension: { '.js': '.mjs' },
    banner: { js: RUNTIME_BANNER },
    logLevel: 'silent',
  });
  const { zeromq, cmakeTs } = zeromqDirs();
  const zeromqPkg = await readFile(join(zeromq, 'package.json'), 'utf8');
  const hash = createHash('sha256');
  for (const file of result.outputFiles) hash.update(file.path).update(file.contents);
  hash.update(zeromqPkg).update(arch);
  const digest = hash.digest('hex').slice(0, 16);
  const root =
    cacheRoot ??
    (existsSync(join(fileURLToPath(new URL('../../node_modules', import.meta.url))))
      ? fileURLToPath(new URL('../../node_modules/.cache/starcluster/runtime', import.meta.url))
      : join(tmpdir(), 'starcluster-runtime'));
  const dir = join(root, `engine-runtime-${arch}-${digest}`);
  if (existsSync(join(dir, 'package.json'))) return { dir, hash: digest, arch };
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const file of result.outputFiles) await writeFile(join(tmp, file.path.split('/').pop()!), file.contents);
  const zdir = join(tmp, 'node_modules', 'zeromq');
  await mkdir(join(zdir, 'build'), { recursive: true });
  await cp(join(zeromq, 'package.json'), join(zdir, 'package.json'));
  await cp(join(zeromq, 'lib'), join(zdir, 'lib'), {
    recursive: true,
    filter: (src) => !/\.(map|ts)$/.test(src),
  });
  await cp(join(zeromq, 'build', 'manifest.json'), join(zdir, 'build', 'manifest.json'));
  const addonDir = join(zeromq, 'build', 'linux', arch);
  if (!existsSync(addonDir)) {
    throw new JobError(
      'NoZeromqAddon',
      `zeromq has no prebuilt addon for linux/${arch}: use x64 or arm64 instance types`,
    );
  }
  await cp(addonDir, join(zdir, 'build', 'linux', arch), { recursive: true });
  const cdir = join(tmp, 'node_modules', 'cmake-ts');
  await mkdir(join(cdir, 'build'), { recursive: true });
  await cp(join(cmakeTs, 'package.json'), join(cdir, 'package.json'));
  for (const f of ['loader.js', 'loader.mjs']) {
    if (existsSync(join(cmakeTs, 'build', f))) await cp(join(cmakeTs, 'build', f), join(cdir, 'build', f));
  }
  await writeFile(join(tmp, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n');
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another process made it first
  }
  return { dir, hash: digest, arch };
}

/**
 * Puts the runtime package on a node (once per content) under ROOT/runtime/ARCH-HASH and returns
 * that folder. A private temp name per upload; the finished folder is moved into place whole, and
 * a node that finds another upload already there (a shared disk) simply drops its own.
 */
export async function installEngineRuntime(
  host: RemoteHost,
  pkg: EngineRuntimePackage,
  root = remoteRoot(),
): Promise<string> {
  const { execChecked } = await import('../remote/index.js');
  const remoteDir = posix.join(root, 'runtime', `${pkg.arch}-${pkg.hash}`);
  const have = await host.exec(`test -f ${q(remoteDir)}/.complete`);
  if (have.code !== 0) {
    const tmp = `${remoteDir}.tmp-${host.alias}-${process.pid}`;
    await execChecked(host, `rm -rf ${q(tmp)} && mkdir -p ${q(posix.dirname(remoteDir))}`);
    await host.put(pkg.dir, tmp);
    await execChecked(
      host,
      // Readable by all: engines run as the cluster user, not as root who uploads it.
      `chmod -R a+rX ${q(tmp)}; touch ${q(tmp)}/.complete; mv -T ${q(tmp)} ${q(remoteDir)} 2>/dev/null; rm -rf ${q(tmp)}; test -f ${q(remoteDir)}/.complete`,
    );
  }
  return remoteDir;
}

/** `uname -m` → our arch names. */
export function archOf(machine: string): string {
  const m = machine.trim();
  if (m === 'x86_64' || m === 'amd64') return 'x64';
  if (m === 'aarch64' || m === 'arm64') return 'arm64';
  return m;
}

interface RemoteNodeInfo {
  alias: string;
  address: string;
  privateIp: string;
  arch: string;
  cores: number;
  /** The Node the runtime runs with: `node` (the image's own, ≥ 20) or the path of ours; unset until known. */
  node: string | undefined;
}

/**
 * Gives every node without Node 20+ ours (see node-runtime.ts): compressed once here, uploaded once
 * to the master, pulled from the master by the other nodes over the private network, checked by
 * sha256 everywhere. Nodes that have Node 20+ get nothing. Sets `info.node` for each node.
 */
async function bringNode(
  ctx: ClusterContext,
  access: NodeAccess,
  master: SetupNode,
  targets: readonly SetupNode[],
  infos: RemoteNodeInfo[],
  root: string,
  signal?: AbortSignal,
): Promise<void> {
  const session = await import('../setup/session.js');
  const { execChecked } = await import('../remote/index.js');
  const lacking = infos.filter((i) => !i.node);
  if (lacking.length === 0) return;
  const binaries = new Map<string, NodeBinary>();
  for (const arch of new Set(lacking.map((i) => i.arch))) binaries.set(arch, await nodeBinaryFor(arch));
  const masterHost = access.host(master, 'root');
  const id = 'engines-node';
  const title = `Bringing Node.js to ${lacking.length === 1 ? lacking[0]!.alias : `${lacking.length} nodes`}`;
  ctx.io.progress({ id, state: 'start', title });
  try {
    // Already there from an earlier start (or resize)?
    const needs: RemoteNodeInfo[] = [];
    await session.onNodes(
      'checking for our Node.js',
      targets.filter((t) => lacking.some((l) => l.alias === t.alias)),
      async (n) => {
        const info = infos.find((i) => i.alias === n.alias)!;
        const binary = binaries.get(info.arch)!;
        const have = await execChecked(access.host(n, 'root'), nodeInstalledCommand(root, binary));
        if (have.stdout.trim() === 'ok') info.node = remoteNodePath(root, binary);
        else needs.push(info);
      },
    );
    if (needs.length === 0) {
      ctx.io.progress({ id, state: 'done', title, detail: 'already installed' });
      return;
    }
    // Once to the master (it relays), then every node that needs it pulls it from there.
    const relayed = new Map<string, string>();
    for (const arch of new Set(needs.map((i) => i.arch))) {
      const binary = binaries.get(arch)!;
      ctx.io.progress({ id, state: 'update', title, detail: `uploading ${binary.source} to master` });
      relayed.set(arch, await uploadNodeGz(masterHost, root, binary));
    }
    throwIfAborted(signal);
    ctx.io.progress({ id, state: 'update', title, detail: `installing on ${needs.map((i) => i.alias).join(', ')}` });
    await session.onNodes(
      'installing Node.js',
      targets.filter((t) => needs.some((i) => i.alias === t.alias)),
      async (n) => {
        const info = needs.find((i) => i.alias === n.alias)!;
        const binary = binaries.get(info.arch)!;
        const host = access.host(n, 'root');
        if (n.alias === master.alias) {
          await execChecked(host, unpackNodeCommand(root, binary, relayed.get(info.arch)!), { timeoutMs: 300_000 });
        } else {
          const pulled = await host.exec(pullNodeCommand(root, binary, master.privateIp), { timeoutMs: 600_000 });
          if (pulled.code !== 0) {
            // The private hop failed (no ssh client on the image?): send it from here instead.
            ctx.io.notify({
              level: 'warn',
              code: 'SC_ENGINES_W0002',
              message: `${n.alias}: pulling Node.js from the master failed (${(pulled.stderr.trim() || pulled.stdout.trim()).split('\n').pop() ?? ''}); uploading it directly`,
            });
            const gz = await uploadNodeGz(host, root, binary);
            await execChecked(host, unpackNodeCommand(root, binary, gz), { timeoutMs: 300_000 });
          }
        }
        info.node = remoteNodePath(root, binary);
      },
    );
    ctx.io.progress({
      id,
      state: 'done',
      title,
      detail: `Node ${[...binaries.values()].map((b) => `${b.version} linux-${b.arch}`).join(', ')} on ${needs.length} node(s)`,
    });
  } catch (error) {
    ctx.io.progress({ id, state: 'fail', title, detail: (error as Error).message });
    throw error;
  }
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

async function startRemoteEngines(ctx: ClusterContext, only?: NodeRecord[], signal?: AbortSignal): Promise<void> {
  const session = await import('../setup/session.js');
  const { execChecked } = await import('../remote/index.js');
  const access = await session.sshAccess(ctx);
  try {
    const all = ctx.nodes.map((n) => session.toSetupNode(ctx, n));
    const master = all.find((n) => n.alias === 'master');
    if (!master) throw new JobError('NoMaster', `cluster ${ctx.name} has no running master: the controller runs there`);
    const targets = only ? all.filter((n) => only.some((o) => o.alias === n.alias)) : all;
    await ensureClusterKeys(ctx.stateDir);
    const root = remoteRoot();
    const base = posix.join(root, 'clusters', ctx.name);

    // What each node is: architecture, cores, and which Node 20+ it has (its own, or ours from a previous start).
    const infos: RemoteNodeInfo[] = await session.onNodes(
      'checking nodes for the engine runtime',
      targets,
      async (n) => {
        const out = await execChecked(
          access.host(n, 'root'),
          'uname -m; (nproc 2>/dev/null || echo 1); (node -p "process.versions.node" 2>/dev/null || echo none)',
        );
        const [machine = '', cores = '1', version = 'none'] = out.stdout.trim().split('\n');
        return {
          alias: n.alias,
          address: n.address,
          privateIp: n.privateIp,
          arch: archOf(machine),
          cores: Number(cores) || 1,
          node: nodeMajor(version) >= NODE_MIN_MAJOR ? 'node' : undefined,
        };
      },
    );
    throwIfAborted(signal);
    await bringNode(ctx, access, master, targets, infos, root, signal);
    throwIfAborted(signal);

    // Upload the runtime (once per content) and the keys each node needs.
    const packages = new Map<string, EngineRuntimePackage>();
    for (const arch of new Set(infos.map((i) => i.arch))) packages.set(arch, await buildEngineRuntime(arch));
    const keyDir = posix.join(base, 'keys');
    await session.onNodes('uploading the engine runtime', targets, async (n) => {
      const host = access.host(n, 'root');
      const pkg = packages.get(infos.find((i) => i.alias === n.alias)!.arch)!;
      await installEngineRuntime(host, pkg, root);
      await execChecked(host, `mkdir -p ${q(keyDir)} && chmod 700 ${q(base)} ${q(keyDir)}`);
      const keyFiles = n.alias === 'master' ? [KEY_FILES.engine, KEY_FILES.controller] : [KEY_FILES.engine];
      for (const file of keyFiles) {
        await host.writeFile(posix.join(keyDir, file), await readFile(join(ctx.stateDir, file)), 0o600);
      }
    });
    throwIfAborted(signal);

    const previous = await readEngineState(ctx.stateDir);
    const state: EngineState = {
      provider: 'ec2',
      host: master.privateIp,
      clientPort: REMOTE_CLIENT_PORT,
      enginePort: REMOTE_ENGINE_PORT,
      engines: { ...(only ? previous?.engines : {}) },
      startedAt: previous?.startedAt ?? new Date().toISOString(),
      ssh: {
        address: master.address,
        user: 'root',
        keyPath: session.privateKeyPath(ctx),
        knownHosts: session.knownHostsFile(ctx),
      },
      addresses: { ...(only ? previous?.addresses : {}), ...Object.fromEntries(all.map((n) => [n.alias, n.address])) },
      runAs: ctx.template.clusterUser,
      node: {
        ...(only ? previous?.node : {}),
        ...Object.fromEntries(infos.map((i) => [i.alias, i.node ?? 'node'])),
      },
    };
    for (const info of infos) state.engines[info.alias] = Math.max(1, ctx.template.enginesPerNode ?? info.cores);

    // Desired processes, then the node's supervisor (if it is not already running).
    await session.onNodes('starting engines', targets, async (n) => {
      const host = access.host(n, 'root');
      const pkg = packages.get(infos.find((i) => i.alias === n.alias)!.arch)!;
      const runtime = posix.join(root, 'runtime', `${pkg.arch}-${pkg.hash}`);
      const nodeDir = posix.join(base, 'nodes', n.alias);
      const node = infos.find((i) => i.alias === n.alias)!.node ?? 'node';
      const processes: DesiredProcess[] = [];
      if (n.alias === 'master') {
        processes.push({
          name: 'controller',
          argv: [
            node,
            posix.join(runtime, 'controller.mjs'),
            '--host',
            master.privateIp,
            '--port',
            String(state.clientPort),
            '--engine-port',
            String(state.enginePort),
            '--keys',
            posix.join(keyDir, KEY_FILES.controller),
          ],
          maxRestarts: 3,
        });
      }
      for (let i = 1; i <= (state.engines[n.alias] ?? 0); i++) {
        processes.push({
          name: `engine-${i}`,
          argv: [
            node,
            posix.join(runtime, 'engine.mjs'),
            '--controller',
            `tcp://${master.privateIp}:${state.enginePort}`,
            '--keys',
            posix.join(keyDir, KEY_FILES.engine),
            '--node',
            n.alias,
          ],
          maxRestarts: 5,
        });
      }
      await execChecked(host, `mkdir -p ${q(nodeDir)}`);
      // Written aside, then renamed into place once the run-as user owns it: a running supervisor
      // (as CLUSTER_USER) must never see a desired.json it cannot read.
      const next = posix.join(nodeDir, 'desired.json.next');
      await host.writeFile(next, JSON.stringify({ processes }, null, 2), 0o600);
      // The marker is assembled in the shell so this command's own line never contains it
      // (pgrep -f would otherwise find the shell running this very check).
      await execChecked(
        host,
        [
          ...runAsUserLines(state.runAs, [base]),
          `mv -f ${q(next)} ${q(posix.join(nodeDir, 'desired.json'))} || exit 1`,
          `M=--sc-node=${q(ctx.name)}/; M="$M"${q(n.alias)}`,
          // setsid -f: a backgrounded `( … &)` would keep the SSH channel open.
          `pgrep -f -- "[-]\${M#-} " >/dev/null || { cd ${q(nodeDir)} && setsid -f $AS ${q(node)} ${q(posix.join(runtime, 'supervisor.mjs'))} "$M" --dir ${q(nodeDir)} >>supervisor.log 2>&1 </dev/null; }`,
        ].join('\n'),
      );
    });
    await writeJsonAtomic(join(ctx.stateDir, ENGINE_STATE_FILE), state);
    throwIfAborted(signal);
    const client = await connectRemote(state, ctx.stateDir, signal);
    try {
      await waitForAll(client, state, signal);
    } finally {
      await client.close();
    }
  } finally {
    access.close();
  }
}

/** Connects to a remote controller through an SSH tunnel to the master; closing the client closes both. */
async function connectRemote(state: EngineState, stateDir: string, signal?: AbortSignal): Promise<Client> {
  if (!state.ssh)
    throw new JobError(
      'EngineStateInvalid',
      `${join(stateDir, ENGINE_STATE_FILE)} has no ssh entry: restart the cluster's engines`,
    );
  const remote = await import('../remote/index.js');
  const pool = new remote.SshPool({
    privateKey: await remote.readPrivateKey(state.ssh.keyPath),
    knownHostsFile: state.ssh.knownHosts,
  });
  try {
    const connection = await pool.connection({ alias: 'master', address: state.ssh.address, user: state.ssh.user });
    const tunnel = await remote.openTunnel(connection, state.host, state.clientPort);
    const keys = await loadPeerKeys(join(stateDir, KEY_FILES.client));
    const deadline = Date.now() + 30_000;
    for (;;) {
      throwIfAborted(signal);
      try {
        const client = await Client.connect({
          endpoint: `tcp://127.0.0.1:${tunnel.localPort}`,
          keys,
          timeoutMs: 5_000,
        });
        const close = client.close.bind(client);
        client.close = async () => {
          await close();
          await tunnel.close();
          pool.close();
        };
        return client;
      } catch (error) {
        if (Date.now() > deadline) {
          await tunnel.close();
          throw error;
        }
      }
    }
  } catch (error) {
    pool.close();
    throw error;
  }
}

/**
 * Stops a node's supervisor and everything it runs, and returns only once they are gone (SIGTERM,
 * up to 10 s for a clean exit, then SIGKILL), so `terminate` and `removenode` never race them.
 */
function stopSupervisedCommand(cluster: string, alias: string): string {
  return [
    `M=-sc-node=${q(cluster)}/; M="$M"${q(alias)}`,
    `pkill -TERM -f -- "[-]$M "`,
    `for _ in $(seq 50); do pgrep -f -- "[-]$M " >/dev/null || exit 0; sleep 0.2; done`,
    `pkill -KILL -f -- "[-]$M "; exit 0`,
  ].join('\n');
}

async function stopRemoteEngines(ctx: ClusterContext, nodes?: NodeRecord[]): Promise<void> {
  const session = await import('../setup/session.js');
  let access;
  try {
    access = await session.sshAccess(ctx);
  } catch {
    return; // no key: nothing we can reach; terminate removes the machines anyway
  }
  try {
    const targets = (nodes ?? ctx.nodes).map((n) => session.toSetupNode(ctx, n));
    await Promise.allSettled(
      targets.map((n) => access.host(n, 'root').exec(stopSupervisedCommand(ctx.name, n.alias), { timeoutMs: 20_000 })),
    );
  } finally {
    access.close();
  }
  const state = await readEngineState(ctx.stateDir);
  if (!nodes || !state) {
    await rm(join(ctx.stateDir, ENGINE_STATE_FILE), { force: true });
    return;
  }
  for (const n of nodes) delete state.engines[n.alias];
  await writeJsonAtomic(join(ctx.stateDir, ENGINE_STATE_FILE), state);
}
