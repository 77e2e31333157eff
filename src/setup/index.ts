import type { NodeRecord } from '../cloud/provider.js';
import type { ClusterContext } from '../model/context.js';
import { CloudError, ConfigError } from '../errors.js';
import { forgetHosts, knownHostsName } from '../remote/known-hosts.js';
import { execChecked } from '../remote/types.js';
import { runSteps, type Step } from '../steps.js';
import { autostopStep } from './autostop.js';
import { isQueuePlugin, loadPlugin, type LoadedPlugin } from './plugin-loader.js';
import { drainNodes, queueSettings, removeFromQueue } from './queue.js';
import type { PluginContext, PluginNode } from './plugins.js';
import * as sh from './scripts.js';
import {
  knownHostsFile,
  onNodes,
  pluginNode,
  sshAccess,
  toSetupNode,
  type NodeAccess,
  type SetupNode,
} from './session.js';
import {
  collectHostKeyLines,
  hostLines,
  hostnamesStep,
  names,
  packagesStep,
  queueStep,
  scratchStep,
  sharedFsStep,
  sharedPaths,
  trustStep,
  userdataStep,
  userStep,
  volumesStep,
  waitSshStep,
  type SetupState,
} from './node-steps.js';

/**
 * Node setup over SSH (hostnames, /etc/hosts, cluster user, passwordless SSH, shared filesystem,
 * volumes, scratch, plugins). Called by cluster operations for clusters whose nodes are machines
 * (PROVIDER = ec2); a local cluster has nothing to set up.
 *
 * Contract for src/cluster: each function is idempotent, runs on all nodes in parallel, reports
 * progress through ctx.io, and throws a RemoteError naming the node on failure.
 * `ctx.nodes` is every running node of the cluster (for setupAddedNodes: including the added ones;
 * for teardownNodes: the removed ones may still be listed, they are left out).
 */

export {
  definePlugin,
  listSetting,
  onAllNodes,
  type PluginContext,
  type PluginDefinition,
  type PluginNode,
} from './plugins.js';
export type { NodeAccess, SetupNode } from './session.js';
export { rebootWatched, type RebootWatchOptions } from './reboot.js';
export {
  detectOs,
  installPackages,
  packageNames,
  type InstallOptions,
  type InstallResult,
  type OsRelease,
  type PackageManager,
} from './packages.js';

export interface SetupOptions {
  /** How nodes are reached (default: SSH with the cluster's key and pinned known_hosts). */
  access?: NodeAccess;
  /** Longest wait for a node's sshd (default 300 s). */
  sshTimeoutMs?: number;
  /** Skip the template's plugins (runplugin runs one on its own). */
  skipPlugins?: boolean;
  /** teardownNodes: requeue the jobs running on the leaving nodes instead of waiting for them (`removenode -f`). */
  requeueJobs?: boolean;
  /** teardownNodes: interrupts the wait for jobs to finish (the nodes are resumed). */
  signal?: AbortSignal;
}

/**
 * Sets `targets` up as nodes of `ctx`'s cluster: the steps that make machines cluster nodes, in
 * order, then each plugin's hook (`pluginStep`). `volumes` only for a new cluster: they are
 * attached to the master, which added nodes are not.
 */
async function setUpNodes(
  ctx: ClusterContext,
  targets: NodeRecord[],
  signal: AbortSignal | undefined,
  options: SetupOptions,
  how: { volumes: boolean; pluginStep: (plugin: LoadedPlugin) => Step<SetupState> },
): Promise<void> {
  await withState(ctx, targets, options, async (state) => {
    const steps: Step<SetupState>[] = [
      waitSshStep(),
      packagesStep(),
      ...(how.volumes ? [volumesStep()] : []),
      hostnamesStep(),
      userStep(),
      scratchStep(),
      trustStep(),
      sharedFsStep(),
      userdataStep(),
      queueStep(),
      autostopStep(),
      ...(options.skipPlugins ? [] : state.plugins.map(how.pluginStep)),
    ];
    await runSteps(steps, state, { io: ctx.io, signal, rollbackOnFailure: false });
  });
}

/** After `start` has running instances: wait for SSH (pinning host keys), then set every node up. */
export async function setupCluster(
  ctx: ClusterContext,
  signal?: AbortSignal,
  options: SetupOptions = {},
): Promise<void> {
  await setUpNodes(ctx, ctx.nodes, signal, options, { volumes: true, pluginStep: pluginRunStep });
}

/** After `addnode`/`resize` up: set the new nodes up and update every node's hosts and shares. */
export async function setupAddedNodes(
  ctx: ClusterContext,
  added: NodeRecord[],
  signal?: AbortSignal,
  options: SetupOptions = {},
): Promise<void> {
  if (added.length === 0) return;
  const nodes = unique([...ctx.nodes, ...added]);
  await setUpNodes({ ...ctx, nodes }, added, signal, options, { volumes: false, pluginStep: pluginAddStep });
}

/** Before `removenode`/`resize` down terminates nodes: plugin hooks, hosts and shares updated. */
export async function teardownNodes(
  ctx: ClusterContext,
  removed: NodeRecord[],
  options: SetupOptions = {},
): Promise<void> {
  if (removed.length === 0) return;
  const gone = new Set(removed.map((n) => n.id));
  const remaining = ctx.nodes.filter((n) => !gone.has(n.id));
  await withState(
    { ...ctx, nodes: [...remaining, ...removed.filter((r) => !remaining.some((n) => n.id === r.id))] },
    removed,
    options,
    async (state) => {
      const leaving = state.targets;
      const staying = state.all.filter((n) => !gone.has(n.record.id));
      const queue = queueSettings(state.ctx.template);
      const steps: Step<SetupState>[] = [
        {
          id: 'setup-queue-drain',
          title: `Draining ${names(leaving)} in the queue`,
          skip: () => (queue.enabled ? false : 'DISABLE_QUEUE'),
          run: (s, report) =>
            drainNodes(
              s,
              leaving,
              { requeue: Boolean(options.requeueJobs), ...(options.signal ? { signal: options.signal } : {}) },
              report,
            ),
        },
        ...[...state.plugins].reverse().map((p) => pluginRemoveStep(p, leaving)),
        {
          id: 'setup-queue-remove',
          title: 'Removing the nodes from the queue',
          skip: () => (queue.enabled ? false : 'DISABLE_QUEUE'),
          run: (s, report) => removeFromQueue({ ...s, all: staying }, leaving, report),
        },
        {
          id: 'setup-unshare',
          title: `Unmounting shares on ${leaving.map((n) => n.alias).join(', ')}`,
          skip: (s) => (s.ctx.template.sharedFs === 'none' ? 'SHARED_FS = none' : false),
          run: async (s) => {
            const script =
              s.ctx.template.sharedFs === 'nfs'
                ? sh.nfsUnmountScript(sharedPaths(s))
                : sh.sshfsUnmountScript(sharedPaths(s));
            // Best effort: a node being removed may already be unreachable.
            await Promise.allSettled(leaving.map((n) => s.access.host(n, 'root').exec(script, { timeoutMs: 30_000 })));
          },
        },
        {
          id: 'setup-forget',
          title: 'Updating /etc/hosts, known hosts and exports on the remaining nodes',
          run: async (s) => {
            const rest = { ...s, all: staying, targets: staying };
            await onNodes('updating /etc/hosts', staying, (n) =>
              execChecked(s.access.host(n, 'root'), `${sh.etcHostsScript(hostLines(staying))}\n`),
            );
            const lines = await collectHostKeyLines(rest, staying);
            await onNodes('updating known hosts', staying, (n) =>
              execChecked(s.access.host(n, 'root'), sh.knownHostsScript(lines)),
            );
            if (s.ctx.template.sharedFs === 'nfs' && staying.includes(s.master)) {
              const workers = staying.filter((n) => n !== s.master);
              await execChecked(
                s.access.host(s.master, 'root'),
                sh.nfsExportScript(
                  sharedPaths(s),
                  workers.map((n) => n.privateIp),
                ),
              );
            }
            // Their addresses will be handed to new instances: forget the pinned keys.
            await forgetHosts(
              knownHostsFile(s.ctx),
              leaving.map((n) => knownHostsName(n.address)),
            );
          },
        },
      ];
      await runSteps(steps, state, {
        io: ctx.io,
        rollbackOnFailure: false,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    },
  );
}

/** Before `stop`/`terminate`: plugins' onShutdown hooks. Must not throw for unreachable nodes. */
export async function shutdownCluster(ctx: ClusterContext, options: SetupOptions = {}): Promise<void> {
  await pluginHooks(ctx, 'onShutdown', options);
}

/** Before `restart` reboots the nodes: plugins' onRestart hooks (StarCluster's on_restart). Never throws. */
export async function restartHooks(ctx: ClusterContext, options: SetupOptions = {}): Promise<void> {
  await pluginHooks(ctx, 'onRestart', options);
}

/** Calls one cluster-wide hook of every plugin, in reverse plugin order; a failure is a warning. */
async function pluginHooks(
  ctx: ClusterContext,
  hook: 'onShutdown' | 'onRestart',
  options: SetupOptions,
): Promise<void> {
  const what = hook === 'onShutdown' ? 'on shutdown' : 'on restart';
  const withHooks = ctx.template.plugins.length > 0;
  if (!withHooks || ctx.nodes.length === 0) return;
  try {
    await withState(ctx, [], options, async (state) => {
      for (const plugin of [...state.plugins].reverse()) {
        const call = plugin.definition[hook];
        if (!call) continue;
        try {
          await call.call(plugin.definition, pluginContext(state, plugin));
        } catch (error) {
          ctx.io.notify({
            level: 'warn',
            code: 'SC_SETUP_W2001',
            message: `plugin ${plugin.name}: ${what} failed (going on): ${(error as Error).message}`,
          });
        }
      }
    });
  } catch (error) {
    ctx.io.notify({
      level: 'warn',
      code: 'SC_SETUP_W2002',
      message: `plugin ${what} hooks skipped: ${(error as Error).message}`,
    });
  }
}

/** Runs one configured plugin's `run` on a live cluster (`runplugin PLUGIN CLUSTER`). */
export async function runPlugin(
  ctx: ClusterContext,
  pluginName: string,
  signal?: AbortSignal,
  options: SetupOptions = {},
): Promise<void> {
  const section = ctx.config.plugins.get(pluginName) ?? ctx.template.plugins.find((p) => p.name === pluginName);
  if (!section) {
    throw new ConfigError('PluginNotDefined', `no [plugin ${pluginName}] section in ${ctx.config.path}`, {
      hint: `defined: ${[...ctx.config.plugins.keys()].join(', ') || '(none)'}`,
    });
  }
  // `runplugin sge CLUSTER` (re)does the queue.
  const step = isQueuePlugin(section) ? queueStep() : pluginRunStep(await loadPlugin(section, ctx.config.path));
  await withState(ctx, ctx.nodes, { ...options, skipPlugins: true }, async (state) => {
    await runSteps([waitSshStep(), step], state, { io: ctx.io, signal, rollbackOnFailure: false });
  });
}

// ---------------------------------------------------------------------------------------------

async function withState(
  ctx: ClusterContext,
  targets: readonly NodeRecord[],
  options: SetupOptions,
  work: (state: SetupState) => Promise<void>,
): Promise<void> {
  const all = unique(ctx.nodes).map((n) => toSetupNode(ctx, n));
  const master = all.find((n) => n.record.role === 'master');
  if (!master) {
    throw new CloudError('NoMaster', `cluster ${ctx.name} has no running master node`, {
      hint: `starcluster listclusters ${ctx.name}`,
    });
  }
  const wanted = new Set(targets.map((t) => t.id));
  // StarCluster's SGE plugin is the built-in queue (queueStep), not a plugin to load.
  const plugins = options.skipPlugins
    ? []
    : await Promise.all(
        ctx.template.plugins.filter((p) => !isQueuePlugin(p)).map((p) => loadPlugin(p, ctx.config.path)),
      );
  const access = options.access ?? (await sshAccess(ctx));
  try {
    await work({
      ctx,
      access,
      all,
      master,
      targets: all.filter((n) => wanted.has(n.record.id)),
      plugins,
      sshTimeoutMs: options.sshTimeoutMs ?? 300_000,
      os: new Map(),
    });
  } finally {
    if (!options.access) access.close();
  }
}

function unique(nodes: readonly NodeRecord[]): NodeRecord[] {
  const seen = new Set<string>();
  return nodes.filter((n) => (seen.has(n.id) ? false : (seen.add(n.id), true)));
}

function pluginContext(s: SetupState, plugin: LoadedPlugin): PluginContext<unknown> {
  const nodes = s.all.map((n) => pluginNode(s.access, n));
  const master = nodes.find((n) => n.role === 'master')!;
  return {
    cluster: s.ctx.name,
    settings: plugin.settings,
    nodes,
    master,
    user: s.ctx.template.clusterUser,
    shell: s.ctx.template.clusterShell,
    volumes: s.ctx.template.volumes,
    stateDir: s.ctx.stateDir,
    io: s.ctx.io,
    log: (message) =>
      s.ctx.io.notify({ level: 'info', code: 'SC_PLUGIN_I2000', message: `${plugin.name}: ${message}` }),
  };
}

function pluginRunStep(plugin: LoadedPlugin): Step<SetupState> {
  return {
    id: `plugin-${plugin.name}`,
    title: `Running plugin ${plugin.name}`,
    run: async (s, _report, signal) => {
      await plugin.definition.run({ ...pluginContext(s, plugin), signal });
    },
  };
}

function pluginAddStep(plugin: LoadedPlugin): Step<SetupState> {
  return {
    id: `plugin-${plugin.name}-add`,
    title: `Plugin ${plugin.name}: adding nodes`,
    skip: () => (plugin.definition.onAddNode ? false : 'no onAddNode hook'),
    run: async (s, _report, signal) => {
      const ctx = { ...pluginContext(s, plugin), signal };
      for (const node of s.targets) {
        const target = ctx.nodes.find((p: PluginNode) => p.id === node.record.id)!;
        await plugin.definition.onAddNode!(target, ctx);
      }
    },
  };
}

function pluginRemoveStep(plugin: LoadedPlugin, leaving: readonly SetupNode[]): Step<SetupState> {
  return {
    id: `plugin-${plugin.name}-remove`,
    title: `Plugin ${plugin.name}: removing nodes`,
    skip: () => (plugin.definition.onRemoveNode ? false : 'no onRemoveNode hook'),
    run: async (s) => {
      const ctx = pluginContext(s, plugin);
      for (const node of leaving) {
        const target = ctx.nodes.find((p) => p.id === node.record.id)!;
        await plugin.definition.onRemoveNode!(target, ctx);
      }
    },
  };
}
