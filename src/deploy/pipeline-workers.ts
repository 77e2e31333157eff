import { randomBytes } from 'node:crypto';
import { join, posix } from 'node:path';
import type { PipelineEndpoints } from '../engines/index.js';
import { KEY_FILES, loadClusterKeys, type ClusterKeys } from '../engines/protocol/keys.js';
import { JobError, throwIfAborted } from '../errors.js';
import { readPrivateKey } from '../remote/keys.js';
import { SshPool } from '../remote/pool.js';
import { openReverseTunnel, type ReverseTunnel } from '../remote/reverse-tunnel.js';
import { execChecked, type RemoteHost } from '../remote/types.js';
import { shellQuote as q } from '../shell.js';
import { archOf, runAsUserLines } from './remote-commands.js';
import { buildEngineRuntime, installEngineRuntime, type EngineRuntimePackage } from './runtime-package.js';
import { remoteRoot, type EngineState } from './state.js';

/**
 * Pipeline workers on a remote (ec2 or fleet) cluster. The client keeps the distributor, collector
 * and control sockets on its own 127.0.0.1 (runPipeline); each node gets three SSH remote port
 * forwards on *its* 127.0.0.1 that lead back to them, and runs one worker per engine slot, which
 * connects to those loopback ports. So the nodes never need a route to the client, and no socket of
 * the pipeline listens on a network address: the only listeners are on the two loopbacks.
 *
 * Workers run from the cluster's engine runtime (uploaded over SFTP like the engines', with the
 * worker entry bundled in), use the node's engine key (curve-engine.json), load the job module
 * shipped to a private run folder (0700, files 0600), and carry a marker `--sc-pipeline=CLUSTER/RUN`
 * by which `stop()` finds and ends every one of them (TERM, then KILL). A worker whose client
 * vanished without a STOP (killed, SSH lost) exits by itself once the control socket's beats stop.
 */

/** A worker exits this long after the last beat or task (the client beats every second). */
export const REMOTE_IDLE_EXIT_MS = 20_000;

export interface NodeWorkers {
  alias: string;
  /** Pipeline worker ids on this node (unique across the run; reported as the task's engine). */
  ids: number[];
}

/** One worker per engine slot: node by node in the state's order, ids 0…N-1. */
export function planWorkers(engines: Record<string, number>): NodeWorkers[] {
  const out: NodeWorkers[] = [];
  let next = 0;
  for (const [alias, count] of Object.entries(engines)) {
    const n = Math.max(0, Math.floor(count));
    if (n === 0) continue;
    out.push({ alias, ids: Array.from({ length: n }, () => next++) });
  }
  return out;
}

/** The marker's value (without the leading dashes): `sc-pipeline=CLUSTER/RUN`. */
export const pipelineMarker = (cluster: string, run: string): string => `sc-pipeline=${cluster}/${run}`;

/**
 * The shell command that starts a node's workers, detached (setsid -f: the SSH channel returns at
 * once), each logging to DIR/worker-ID.log. The marker is assembled in the shell, so the command's
 * own line never matches the stop command's pattern.
 */
export function workerStartCommand(options: {
  cluster: string;
  run: string;
  runtimeDir: string;
  runDir: string;
  keyFile: string;
  /** The node-side loopback ports of the three reverse tunnels. */
  ports: { distributor: number; collector: number; control: number };
  ids: readonly number[];
  /** Module name → file on the node. */
  modules: Record<string, string>;
  idleExitMs?: number;
  /** The Node to run workers with (default `node`; our copy's path on images without Node 20+). */
  node?: string;
  /** The cluster user the workers run as (root only sets up); the run folder is handed to it. */
  runAs?: string;
}): string {
  const ep = (port: number): string => `tcp://127.0.0.1:${port}`;
  const args = [
    '"-$M"',
    '--distributor',
    ep(options.ports.distributor),
    '--collector',
    ep(options.ports.collector),
    '--control',
    ep(options.ports.control),
    '--keys',
    q(options.keyFile),
    '--idle-exit',
    String(options.idleExitMs ?? REMOTE_IDLE_EXIT_MS),
    ...Object.entries(options.modules).flatMap(([name, file]) => ['--module', q(`${name}=${file}`)]),
  ];
  return [
    // The run folder and its parent (made 0700 by root) go to the user.
    ...runAsUserLines(options.runAs, [posix.dirname(options.runDir)]),
    `M=-${q(pipelineMarker(options.cluster, options.run))}`,
    `cd ${q(options.runDir)} || exit 1`,
    `for i in ${options.ids.join(' ')}; do`,
    `  setsid -f $AS ${q(options.node ?? 'node')} ${q(posix.join(options.runtimeDir, 'pipeline-worker.mjs'))} ${args.join(' ')} --id "$i" >>"worker-$i.log" 2>&1 </dev/null || exit 1`,
    'done',
  ].join('\n');
}

/**
 * Stops every worker of the run on a node and returns once they are gone: TERM, up to 5 s for a
 * clean exit, then KILL; then removes the run folder (job module, logs). Exit status 0 always.
 */
export function workerStopCommand(cluster: string, run: string, runDir: string): string {
  return [
    `M=-${q(pipelineMarker(cluster, run))}`,
    `pkill -TERM -f -- "[-]$M" 2>/dev/null`,
    `for _ in $(seq 50); do pgrep -f -- "[-]$M" >/dev/null || break; sleep 0.1; done`,
    `pkill -KILL -f -- "[-]$M" 2>/dev/null`,
    `rm -rf ${q(runDir)}`,
    'exit 0',
  ].join('\n');
}

/** Counts the run's live workers on a node (for tests and checks). */
export function workerCountCommand(cluster: string, run: string): string {
  return [`M=-${q(pipelineMarker(cluster, run))}`, `pgrep -c -f -- "[-]$M" || true`].join('\n');
}

export interface RemotePipelineWorkers {
  /** Workers the run starts (Σ engine slots). */
  readonly workers: number;
  readonly keys: ClusterKeys;
  /** The run's id (part of every worker's marker). */
  readonly run: string;
  /** Checks the nodes, installs the runtime where missing and ships the job module(s). */
  ship(modules: Record<string, string>, signal?: AbortSignal): Promise<void>;
  /** Opens the reverse tunnels to `endpoints` on every node and starts the workers. */
  start(endpoints: PipelineEndpoints): Promise<void>;
  /** The last lines of every worker log (for a start that timed out). */
  logs(lines?: number): Promise<string[]>;
  /** Stops every worker, removes the run folders, closes the tunnels. Idempotent. */
  stop(): Promise<void>;
  /** `stop()`, then closes the SSH connections. */
  close(): Promise<void>;
}

interface NodeRun {
  alias: string;
  address: string;
  ids: number[];
  host: RemoteHost;
  runtimeDir?: string;
  tunnels: ReverseTunnel[];
  started: boolean;
}

const tcpPort = (endpoint: string): number => {
  const port = Number(/:(\d+)$/.exec(endpoint)?.[1]);
  if (!(port > 0)) throw new JobError('PipelineEndpointInvalid', `pipeline endpoint ${endpoint} has no TCP port`);
  return port;
};

/** The worker plan of a state, or why the state cannot carry a pipeline run. */
function checkedPlan(cluster: string, stateDir: string, state: EngineState): NodeWorkers[] {
  if (!state.ssh) {
    throw new JobError(
      'EngineStateInvalid',
      `${join(stateDir, 'engines.json')} has no ssh entry: restart the cluster's engines`,
    );
  }
  const plan = planWorkers(state.engines);
  const missing = plan.filter((p) => !state.addresses?.[p.alias] && p.alias !== 'master');
  if (missing.length) {
    throw new JobError(
      'PipelineNeedsAddresses',
      `cluster ${cluster}'s engine state does not record how to reach ${missing.map((m) => m.alias).join(', ')}: restart its engines with this version`,
      { hint: `starcluster restart ${cluster}` },
    );
  }
  if (plan.length === 0) {
    throw new JobError('NoEngines', `cluster ${cluster} has no engine slots to run pipeline workers on`);
  }
  return plan;
}

/** Runs `work` on every node at once; one JobError names every node that failed. */
async function onEvery<T>(nodes: readonly NodeRun[], what: string, work: (n: NodeRun) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(nodes.map(work));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ n: nodes[i]!, e: r.reason as unknown }] : []));
  if (failed.length) {
    const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    throw new JobError(
      'PipelineNodeFailed',
      `${what} failed on ${failed.map((f) => f.n.alias).join(', ')}: ${msg(failed[0]!.e)}`,
      { details: failed.map((f) => `${f.n.alias}: ${msg(f.e)}`), cause: failed[0]!.e },
    );
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** One pipeline run's workers on the nodes of a remote cluster (see openRemotePipeline). */
class RemotePipeline implements RemotePipelineWorkers {
  readonly run = randomBytes(6).toString('hex');
  readonly workers: number;
  private readonly runDir: string;
  private readonly keyFile: string;
  private readonly nodes: NodeRun[];
  private readonly moduleFiles: Record<string, string> = {};
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly cluster: string,
    private readonly state: EngineState & { ssh: NonNullable<EngineState['ssh']> },
    plan: readonly NodeWorkers[],
    readonly keys: ClusterKeys,
    private readonly pool: SshPool,
    private readonly root: string,
  ) {
    const base = posix.join(root, 'clusters', cluster);
    this.runDir = posix.join(base, 'pipeline', this.run);
    this.keyFile = posix.join(base, 'keys', KEY_FILES.engine);
    this.workers = plan.reduce((sum, p) => sum + p.ids.length, 0);
    this.nodes = plan.map((p) => {
      const address = state.addresses?.[p.alias] ?? state.ssh.address;
      const host = pool.host({ alias: p.alias, address, user: state.ssh.user });
      return { alias: p.alias, address, ids: p.ids, host, tunnels: [], started: false };
    });
  }

  async ship(modules: Record<string, string>, signal?: AbortSignal): Promise<void> {
    const packages = new Map<string, Promise<EngineRuntimePackage>>();
    const { runDir } = this;
    await onEvery(this.nodes, 'installing the pipeline runtime', async (n) => {
      const arch = archOf((await execChecked(n.host, 'uname -m')).stdout);
      if (!packages.has(arch)) packages.set(arch, buildEngineRuntime(arch));
      n.runtimeDir = await installEngineRuntime(n.host, await packages.get(arch)!, this.root);
      throwIfAborted(signal);
      await execChecked(
        n.host,
        `mkdir -p ${q(runDir)} && chmod 700 ${q(posix.dirname(runDir))} ${q(runDir)} && test -f ${q(this.keyFile)}`,
      );
      let i = 0;
      for (const [name, code] of Object.entries(modules)) {
        const file = posix.join(runDir, `module-${i++}.mjs`);
        await n.host.writeFile(file, code, 0o600);
        this.moduleFiles[name] = file;
      }
    });
  }

  async start(endpoints: PipelineEndpoints): Promise<void> {
    const local = {
      distributor: tcpPort(endpoints.distributor),
      collector: tcpPort(endpoints.collector),
      control: tcpPort(endpoints.control),
    };
    const { state } = this;
    await onEvery(this.nodes, 'starting pipeline workers', async (n) => {
      if (!n.runtimeDir) throw new JobError('PipelineNotShipped', 'the job was not shipped before start');
      const connection = await this.pool.connection({ alias: n.alias, address: n.address, user: state.ssh.user });
      const ports = { distributor: 0, collector: 0, control: 0 };
      for (const which of ['distributor', 'collector', 'control'] as const) {
        const tunnel = await openReverseTunnel(connection, local[which]);
        n.tunnels.push(tunnel);
        ports[which] = tunnel.remotePort;
      }
      n.started = true;
      await execChecked(
        n.host,
        workerStartCommand({
          cluster: this.cluster,
          run: this.run,
          runtimeDir: n.runtimeDir,
          runDir: this.runDir,
          keyFile: this.keyFile,
          ports,
          ids: n.ids,
          modules: this.moduleFiles,
          node: state.node?.[n.alias] ?? 'node',
          ...(state.runAs ? { runAs: state.runAs } : {}),
        }),
      );
    });
  }

  async logs(lines = 5): Promise<string[]> {
    const out: string[] = [];
    const command = `cd ${q(this.runDir)} 2>/dev/null && for f in worker-*.log; do [ -s "$f" ] && tail -n ${lines} "$f" | sed "s|^|$f: |"; done; true`;
    for (const n of this.nodes) {
      const r = await n.host.exec(command, { timeoutMs: 10_000 }).catch(() => undefined);
      for (const line of (r?.stdout ?? '').split('\n').filter(Boolean)) out.push(`${n.alias} ${line}`);
    }
    return out;
  }

  private async stopNode(n: NodeRun): Promise<void> {
    const command = workerStopCommand(this.cluster, this.run, this.runDir);
    await n.host.exec(command, { timeoutMs: 20_000 }).catch(() => undefined);
    await Promise.all(n.tunnels.map((t) => t.close().catch(() => undefined)));
    n.tunnels = [];
    n.started = false;
  }

  stop(): Promise<void> {
    return (this.stopped ??= Promise.all(this.nodes.map((n) => this.stopNode(n))).then(() => undefined));
  }

  async close(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.pool.close();
    }
  }
}

/** Connects to every node of an ec2 cluster's engine runtime for one pipeline run. */
export async function openRemotePipeline(options: {
  cluster: string;
  stateDir: string;
  state: EngineState;
  env?: NodeJS.ProcessEnv;
}): Promise<RemotePipelineWorkers> {
  const { cluster, stateDir, state } = options;
  const plan = checkedPlan(cluster, stateDir, state);
  const ssh = state.ssh!;
  const keys = await loadClusterKeys(stateDir);
  const pool = new SshPool({
    privateKey: await readPrivateKey(ssh.keyPath),
    knownHostsFile: ssh.knownHosts,
    user: ssh.user,
  });
  return new RemotePipeline(cluster, { ...state, ssh }, plan, keys, pool, remoteRoot(options.env ?? process.env));
}
