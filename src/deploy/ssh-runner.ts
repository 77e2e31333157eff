import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { DesiredProcess } from '../cloud/local/node/files.js';
import type { NodeRecord } from '../model/node.js';
import type { ClusterContext } from '../model/context.js';
import { KEY_FILES } from '../engines/protocol/keys.js';
import { JobError, throwIfAborted } from '../errors.js';
import { execChecked } from '../remote/types.js';
import {
  knownHostsFile,
  onNodes,
  privateKeyPath,
  sshAccess,
  toSetupNode,
  type NodeAccess,
  type SetupNode,
} from '../setup/session.js';
import { shellQuote as q } from '../shell.js';
import { bringNode, type RemoteNodeInfo } from './bring-node.js';
import type { NodeLayout, PreparedRuntime } from './plan.js';
import {
  DESIRED_NEXT,
  PROBE_COMMAND,
  parseProbe,
  supervisorStartCommand,
  supervisorStopCommand,
} from './remote-commands.js';
import type { NodeRunner } from './runner.js';
import { buildEngineRuntime, installEngineRuntime, type EngineRuntimePackage } from './runtime-package.js';
import { REMOTE_CLIENT_PORT, REMOTE_ENGINE_PORT, remoteRoot } from './state.js';

/** A node readied by `prepare`: what `run` starts its supervisor with. */
interface ReadyNode {
  node: SetupNode;
  /** The installed runtime package's folder on the node. */
  runtime: string;
  /** The Node it runs with: `node` or our copy's path. */
  nodeBinary: string;
}

/**
 * EC2 (and fleet) nodes, reached over SSH as root: the runtime package is uploaded to every node
 * (with our Node.js where the image has none) and run under the same small supervisor local nodes
 * use, as the cluster user; the controller listens on the master's private IP.
 */
export class SshNodeRunner implements NodeRunner {
  private readonly root = remoteRoot();
  private readonly base: string;
  private readonly keyDir: string;
  private readonly ready = new Map<string, ReadyNode>();

  private constructor(
    private readonly ctx: ClusterContext,
    private readonly access: NodeAccess,
  ) {
    this.base = posix.join(this.root, 'clusters', ctx.name);
    this.keyDir = posix.join(this.base, 'keys');
  }

  static async open(ctx: ClusterContext): Promise<SshNodeRunner> {
    return new SshNodeRunner(ctx, await sshAccess(ctx));
  }

  async prepare(records: readonly NodeRecord[], _previous: unknown, signal?: AbortSignal): Promise<PreparedRuntime> {
    const { ctx } = this;
    const all = ctx.nodes.map((n) => toSetupNode(ctx, n));
    const master = all.find((n) => n.alias === 'master');
    if (!master) throw new JobError('NoMaster', `cluster ${ctx.name} has no running master: the controller runs there`);
    const targets = all.filter((n) => records.some((r) => r.alias === n.alias));
    // What each node is: architecture, cores, and which Node 20+ it has (its own, or ours from a previous start).
    const infos: RemoteNodeInfo[] = await onNodes('checking nodes for the engine runtime', targets, async (n) => ({
      alias: n.alias,
      ...parseProbe((await execChecked(this.host(n), PROBE_COMMAND)).stdout),
    }));
    throwIfAborted(signal);
    await bringNode({ io: ctx.io, access: this.access, master, root: this.root }, targets, infos, signal);
    throwIfAborted(signal);
    await this.install(targets, infos);
    throwIfAborted(signal);
    return {
      provider: 'ec2',
      controller: { host: master.privateIp, clientPort: REMOTE_CLIENT_PORT, enginePort: REMOTE_ENGINE_PORT },
      nodes: infos.map((info) => {
        const ready = this.ready.get(info.alias)!;
        return { alias: info.alias, cores: info.cores, node: ready.nodeBinary, layout: this.layout(ready) };
      }),
      reach: {
        ssh: { address: master.address, user: 'root', keyPath: privateKeyPath(ctx), knownHosts: knownHostsFile(ctx) },
        addresses: Object.fromEntries(all.map((n) => [n.alias, n.address])),
        runAs: ctx.template.clusterUser,
      },
    };
  }

  /** Uploads the runtime (once per content) and the keys each node needs. */
  private async install(targets: readonly SetupNode[], infos: readonly RemoteNodeInfo[]): Promise<void> {
    const packages = new Map<string, EngineRuntimePackage>();
    for (const arch of new Set(infos.map((i) => i.arch))) packages.set(arch, await buildEngineRuntime(arch));
    const { keyDir, base } = this;
    await onNodes('uploading the engine runtime', targets, async (n) => {
      const host = this.host(n);
      const info = infos.find((i) => i.alias === n.alias)!;
      const runtime = await installEngineRuntime(host, packages.get(info.arch)!, this.root);
      await execChecked(host, `mkdir -p ${q(keyDir)} && chmod 700 ${q(base)} ${q(keyDir)}`);
      const keyFiles = n.alias === 'master' ? [KEY_FILES.engine, KEY_FILES.controller] : [KEY_FILES.engine];
      for (const file of keyFiles) {
        await host.writeFile(posix.join(keyDir, file), await readFile(join(this.ctx.stateDir, file)), 0o600);
      }
      this.ready.set(n.alias, { node: n, runtime, nodeBinary: info.node ?? 'node' });
    });
  }

  private layout(ready: ReadyNode): NodeLayout {
    const entry = (name: string): string[] => [ready.nodeBinary, posix.join(ready.runtime, `${name}.mjs`)];
    return {
      command: { controller: entry('controller'), engine: entry('engine') },
      keys: {
        controller: posix.join(this.keyDir, KEY_FILES.controller),
        engine: posix.join(this.keyDir, KEY_FILES.engine),
      },
    };
  }

  /** Desired processes, then the node's supervisor (if it is not already running). */
  async run(processes: ReadonlyMap<string, DesiredProcess[]>): Promise<void> {
    const nodes = [...processes.keys()].map((alias) => {
      const ready = this.ready.get(alias);
      if (!ready) throw new JobError('NodeNotPrepared', `${alias} was not readied for the engine runtime`);
      return ready;
    });
    await onNodes(
      'starting engines',
      nodes.map((r) => r.node),
      async (n) => {
        const { runtime, nodeBinary } = this.ready.get(n.alias)!;
        const host = this.host(n);
        const nodeDir = posix.join(this.base, 'nodes', n.alias);
        await execChecked(host, `mkdir -p ${q(nodeDir)}`);
        // Written aside, then renamed into place once the run-as user owns it: a running supervisor
        // (as CLUSTER_USER) must never see a desired.json it cannot read.
        const desired = JSON.stringify({ processes: processes.get(n.alias) }, null, 2);
        await host.writeFile(posix.join(nodeDir, DESIRED_NEXT), desired, 0o600);
        await execChecked(
          host,
          supervisorStartCommand({
            cluster: this.ctx.name,
            alias: n.alias,
            base: this.base,
            nodeDir,
            node: nodeBinary,
            supervisor: posix.join(runtime, 'supervisor.mjs'),
            runAs: this.ctx.template.clusterUser,
          }),
        );
      },
    );
  }

  async stop(records: readonly NodeRecord[]): Promise<void> {
    const targets = records.map((n) => toSetupNode(this.ctx, n));
    await Promise.allSettled(
      targets.map((n) => this.host(n).exec(supervisorStopCommand(this.ctx.name, n.alias), { timeoutMs: 20_000 })),
    );
  }

  private host(n: SetupNode): ReturnType<NodeAccess['host']> {
    return this.access.host(n, 'root');
  }

  close(): void {
    this.access.close();
  }
}
