import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { deadlineIn, systemClock, type Clock } from '../../clock.js';
import { CloudError, throwIfAborted } from '../../errors.js';
import { clusterStateDir, starclusterHome } from '../../paths.js';
import type { Account } from '../account.js';
import { TAG_RUN } from '../../model/tags.js';
import {
  notSupported,
  type ClusterRecord,
  type LaunchProblem,
  type LaunchSpec,
  type NodeRecord,
  type NodeState,
  type Provider,
  TAG_ALIAS,
  TAG_CLUSTER,
  TAG_NAME,
  TAG_ROLE,
} from '../provider.js';
import { hasEnvMarker, isOurProcess, nodeEntryCommand } from './entry.js';
import {
  type DesiredState,
  NODE_ENV,
  type NodeStatus,
  desiredFile,
  readJson,
  statusFile,
  writeJsonAtomic,
} from './node/files.js';

/**
 * PROVIDER = local: a cluster's nodes are supervisor processes on this machine. Each node is a
 * record in `~/.starcluster/clusters/NAME/local.json` with an id like `local-NAME-master`, private
 * IP 127.0.0.1, and the pid of its supervisor (src/cloud/local/node); it is `running` while that
 * supervisor lives. The engine runtime asks a node's supervisor to run processes by writing
 * `nodes/ALIAS/desired.json` (see `writeDesired`).
 */
export const LOCAL_STATE_FILE = 'local.json';

export interface LocalNodeEntry {
  id: string;
  alias: string;
  role: 'master' | 'node';
  instanceType: string;
  launchTime: string;
  supervisorPid?: number;
  tags: Record<string, string>;
}

export interface LocalClusterState {
  version: 1;
  cluster: string;
  /** clientToken → ids it launched, for idempotent launch. */
  tokens: Record<string, string[]>;
  nodes: LocalNodeEntry[];
}

export interface LocalProviderOptions {
  /** Environment used to find `~/.starcluster` ($STARCLUSTER_HOME); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long `waitRunning` waits for supervisors to report (ms); default 30 s. */
  readyTimeoutMs?: number;
  /** Whose time the waits for supervisors (to report, to exit) are measured in (default the wall clock). */
  clock?: Clock;
}

export const localNodeId = (cluster: string, alias: string): string => `local-${cluster}-${alias}`;
export const localNodeDir = (stateDir: string, alias: string): string => join(stateDir, 'nodes', alias);
const supervisorMarker = (cluster: string, alias: string): string => `--sc-node=${cluster}/${alias}`;

export class LocalProvider implements Provider {
  readonly kind = 'local' as const;
  readonly nodesAreMachines = false;
  private readonly env: NodeJS.ProcessEnv;
  private readonly readyTimeoutMs: number;
  private readonly clock: Clock;

  constructor(options: LocalProviderOptions = {}) {
    this.env = options.env ?? process.env;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.clock = options.clock ?? systemClock;
  }

  stateDir(cluster: string): string {
    return clusterStateDir(cluster, this.env);
  }

  async readState(cluster: string): Promise<LocalClusterState | undefined> {
    return readJson<LocalClusterState>(join(this.stateDir(cluster), LOCAL_STATE_FILE));
  }

  private async writeState(state: LocalClusterState): Promise<void> {
    const dir = this.stateDir(state.cluster);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(join(dir, LOCAL_STATE_FILE), state);
  }

  async listClusters(): Promise<string[]> {
    const root = join(starclusterHome(this.env), 'clusters');
    let names: string[];
    try {
      names = await readdir(root);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names.sort()) {
      const state = await this.readState(name);
      if (state && state.nodes.length > 0) out.push(name);
    }
    return out;
  }

  /** Local clusters have no groups: nothing is kept about them besides their nodes. */
  describeCluster(): Promise<ClusterRecord> {
    return Promise.resolve({});
  }

  async listNodes(cluster: string): Promise<NodeRecord[]> {
    const state = await this.readState(cluster);
    if (!state) return [];
    const records = await Promise.all(state.nodes.map((n) => this.toRecord(cluster, n)));
    return records.sort((a, b) => (a.role === b.role ? a.alias.localeCompare(b.alias) : a.role === 'master' ? -1 : 1));
  }

  async describeNodes(ids: string[]): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for (const cluster of await this.listClusters())
      out.push(...(await this.listNodes(cluster)).filter((n) => ids.includes(n.id)));
    return out;
  }

  private async toRecord(cluster: string, entry: LocalNodeEntry): Promise<NodeRecord> {
    const alive = await isOurProcess(entry.supervisorPid, [supervisorMarker(cluster, entry.alias)]);
    const state: NodeState = alive ? 'running' : entry.supervisorPid ? 'stopped' : 'pending';
    return {
      id: entry.id,
      cluster,
      alias: entry.alias,
      role: entry.role,
      state,
      instanceType: entry.instanceType,
      zone: 'local',
      privateIp: '127.0.0.1',
      launchTime: new Date(entry.launchTime),
      tags: entry.tags,
    };
  }

  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NodeRecord[]> {
    throwIfAborted(signal);
    const state: LocalClusterState = (await this.readState(spec.cluster)) ?? {
      version: 1,
      cluster: spec.cluster,
      tokens: {},
      nodes: [],
    };
    const already = state.tokens[spec.clientToken];
    if (already) {
      const nodes = await this.listNodes(spec.cluster);
      return nodes.filter((n) => already.includes(n.id));
    }
    const ids: string[] = [];
    for (const alias of spec.aliases) {
      const id = localNodeId(spec.cluster, alias);
      if (state.nodes.some((n) => n.id === id)) {
        throw new CloudError('NodeExists', `node ${alias} of cluster ${spec.cluster} already exists (${id})`, {
          hint: `terminate it first: starcluster terminate ${spec.cluster}`,
        });
      }
      const entry: LocalNodeEntry = {
        id,
        alias,
        role: spec.role,
        instanceType: spec.instanceType || 'local',
        launchTime: new Date().toISOString(),
        tags: {
          ...spec.tags,
          [TAG_CLUSTER]: spec.cluster,
          [TAG_ROLE]: spec.role,
          [TAG_ALIAS]: alias,
          [TAG_NAME]: `${spec.cluster}-${alias}`,
        },
      };
      entry.supervisorPid = await this.spawnSupervisor(spec.cluster, alias);
      state.nodes.push(entry);
      ids.push(id);
      // Recorded after every node, so a failure half-way leaves records terminate can find.
      state.tokens[spec.clientToken] = ids;
      await this.writeState(state);
    }
    const nodes = await this.listNodes(spec.cluster);
    return nodes.filter((n) => ids.includes(n.id));
  }

  private async spawnSupervisor(cluster: string, alias: string): Promise<number> {
    const nodeDir = localNodeDir(this.stateDir(cluster), alias);
    await mkdir(nodeDir, { recursive: true, mode: 0o700 });
    const [command, ...args] = nodeEntryCommand(new URL('./node/main.js', import.meta.url));
    const log = openSync(join(nodeDir, 'supervisor.log'), 'a');
    const child = spawn(command!, [...args, supervisorMarker(cluster, alias), '--dir', nodeDir], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...this.env, [NODE_ENV]: `${cluster}/${alias}` },
    });
    closeSync(log);
    if (!child.pid) throw new CloudError('LocalSpawnFailed', `could not start the local node ${cluster}/${alias}`);
    child.unref();
    return child.pid;
  }

  async waitRunning(ids: string[], signal?: AbortSignal): Promise<NodeRecord[]> {
    const deadline = deadlineIn(this.readyTimeoutMs, this.clock);
    for (;;) {
      throwIfAborted(signal);
      const byCluster = new Map<string, NodeRecord[]>();
      const found: NodeRecord[] = [];
      for (const id of ids) {
        const cluster = await this.clusterOf(id);
        if (!cluster) continue;
        if (!byCluster.has(cluster)) byCluster.set(cluster, await this.listNodes(cluster));
        const node = byCluster.get(cluster)!.find((n) => n.id === id);
        if (node) found.push(node);
      }
      const ready: NodeRecord[] = [];
      for (const node of found) {
        if (node.state !== 'running') continue;
        const status = await readJson<NodeStatus>(statusFile(localNodeDir(this.stateDir(node.cluster), node.alias)));
        if (status) ready.push(node);
      }
      if (ready.length === ids.length) return ready;
      const notReady = ids.filter((id) => !ready.some((n) => n.id === id));
      const dead = found.filter((n) => n.state === 'stopped').map((n) => n.id);
      if (dead.length || deadline.expired()) {
        throw new CloudError('LocalNodesNotRunning', `local nodes did not start: ${notReady.join(', ')}`, {
          hint: `see supervisor.log under ${join(starclusterHome(this.env), 'clusters', '<cluster>', 'nodes')}`,
        });
      }
      await this.clock.sleep(100, signal);
    }
  }

  private async clusterOf(id: string): Promise<string | undefined> {
    for (const cluster of await this.listClusters()) {
      const state = await this.readState(cluster);
      if (state?.nodes.some((n) => n.id === id)) return cluster;
    }
    return undefined;
  }

  async terminate(ids: string[]): Promise<void> {
    const clusters = new Map<string, string[]>();
    for (const id of ids) {
      const cluster = await this.clusterOf(id);
      if (!cluster) continue; // already gone: not an error
      clusters.set(cluster, [...(clusters.get(cluster) ?? []), id]);
    }
    for (const [cluster, clusterIds] of clusters) {
      const state = await this.readState(cluster);
      if (!state) continue;
      const doomed = state.nodes.filter((n) => clusterIds.includes(n.id));
      await Promise.all(doomed.map((n) => this.stopNode(cluster, n)));
      const fresh = (await this.readState(cluster)) ?? state;
      fresh.nodes = fresh.nodes.filter((n) => !clusterIds.includes(n.id));
      for (const [token, list] of Object.entries(fresh.tokens)) {
        const left = list.filter((id) => !clusterIds.includes(id));
        if (left.length) fresh.tokens[token] = left;
        else delete fresh.tokens[token];
      }
      if (fresh.nodes.length === 0) {
        await rm(join(this.stateDir(cluster), LOCAL_STATE_FILE), { force: true });
        await rm(join(this.stateDir(cluster), 'nodes'), { recursive: true, force: true });
      } else {
        await this.writeState(fresh);
      }
    }
  }

  /** Terminating a process is done when `terminate` returns. */
  async waitTerminated(): Promise<void> {}

  async terminateRun(cluster: string, runId: string, ids: readonly string[]): Promise<void> {
    const tagged = (await this.listNodes(cluster)).filter((n) => n.tags[TAG_RUN] === runId).map((n) => n.id);
    await this.terminate([...new Set([...ids, ...tagged])]);
  }

  async shuttingDown(): Promise<string[]> {
    return [];
  }

  async finishTerminating(
    cluster: string,
    terminated: readonly string[],
  ): Promise<{ extra: string[]; waitedFor: string[] }> {
    // Anything that appeared since the listing (a start racing us) goes too.
    const extra = (await this.listNodes(cluster)).map((n) => n.id).filter((id) => !terminated.includes(id));
    await this.terminate(extra);
    return { extra, waitedFor: [] };
  }

  // --- what a process cluster does not have ----------------------------------------------------

  checkTemplate(): Promise<LaunchProblem[]> {
    return Promise.resolve([]);
  }

  validateTemplate(): Promise<LaunchProblem[]> {
    return Promise.resolve([]);
  }

  /** Processes boot nothing. */
  userData(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  /** No port is opened: nothing to warn about. */
  templateWarnings(): string[] {
    return [];
  }

  /** One machine has no zones: a launch refused here is refused everywhere. */
  isZoneSpecific(): boolean {
    return false;
  }

  launchZones(): Promise<string[]> {
    return Promise.resolve([]);
  }

  spotRequests(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async cancelSpotRequests(): Promise<void> {}

  releaseNodes(): Promise<string[]> {
    return Promise.reject(
      notSupported('local', 'cannot keep removed nodes running outside the cluster', 'remove them without -k'),
    );
  }

  account(): Account {
    throw notSupported(
      'local',
      'has no account: key pairs, volumes, images, zones and spot prices exist on EC2',
      'give the command an EC2 config (or the AWS credential chain) and --region',
    );
  }

  /** SIGTERM the supervisor (it stops its children), then SIGKILL whatever of ours is left. */
  private async stopNode(cluster: string, node: LocalNodeEntry): Promise<void> {
    const nodeDir = localNodeDir(this.stateDir(cluster), node.alias);
    const status = await readJson<NodeStatus>(statusFile(nodeDir));
    const marker = `${cluster}/${node.alias}`;
    const supervisorOurs = await isOurProcess(node.supervisorPid, [supervisorMarker(cluster, node.alias)]);
    if (supervisorOurs) signal(node.supervisorPid!, 'SIGTERM');
    const deadline = deadlineIn(6000, this.clock);
    while (
      supervisorOurs &&
      !deadline.expired() &&
      (await isOurProcess(node.supervisorPid, [supervisorMarker(cluster, node.alias)]))
    )
      await this.clock.sleep(50);
    if (await isOurProcess(node.supervisorPid, [supervisorMarker(cluster, node.alias)]))
      signal(node.supervisorPid!, 'SIGKILL');
    for (const child of status?.children ?? []) {
      if (child.pid && (await hasEnvMarker(child.pid, NODE_ENV, marker))) signal(child.pid, 'SIGKILL');
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** The factory src/cloud/index.ts calls for PROVIDER = local. */
export function createLocalProvider(options: LocalProviderOptions = {}): LocalProvider {
  return new LocalProvider(options);
}

/** True if the cluster has local node records (running or not). */
export function hasLocalState(cluster: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(join(clusterStateDir(cluster, env), LOCAL_STATE_FILE));
}

/** Tells a local node's supervisor which processes to keep running (it picks the change up within ~200 ms). */
export async function writeDesired(stateDir: string, alias: string, desired: DesiredState): Promise<void> {
  const dir = localNodeDir(stateDir, alias);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(desiredFile(dir), desired);
}

/** What a local node's supervisor last reported, if anything. */
export async function readNodeStatus(stateDir: string, alias: string): Promise<NodeStatus | undefined> {
  return readJson<NodeStatus>(statusFile(localNodeDir(stateDir, alias)));
}
