import { readFile } from 'node:fs/promises';
import type { NodeRecord } from '../cloud/provider.js';
import type { ClusterContext } from '../model/context.js';
import { CloudError, ConfigError, RemoteError, throwIfAborted } from '../errors.js';
import { forgetHosts, knownHostsName } from '../remote/known-hosts.js';
import { execChecked } from '../remote/types.js';
import { runSteps, type Step } from '../steps.js';
import { registerScriptSecrets } from '../secrets.js';
import { installPackages, type OsRelease } from './packages.js';
import { isQueuePlugin, loadPlugin, type LoadedPlugin } from './plugin-loader.js';
import { configureQueue, drainNodes, installQueue, queueSettings, removeFromQueue } from './queue.js';
import type { PluginContext, PluginNode } from './plugins.js';
import * as sh from './scripts.js';
import {
  knownHostsFile,
  onNodes,
  pluginNode,
  sha256,
  sshAccess,
  toSetupNode,
  type NodeAccess,
  type SetupNode,
} from './session.js';
import { deviceFor, TAG_MKFS, TAG_RESIZEFS, volumeAttacher } from './volumes.js';

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

interface SetupState {
  ctx: ClusterContext;
  access: NodeAccess;
  all: SetupNode[];
  master: SetupNode;
  /** The nodes this run sets up (all of them for start; the new ones for addnode). */
  targets: SetupNode[];
  plugins: LoadedPlugin[];
  uid?: number;
  gid?: number;
  sshTimeoutMs: number;
  /** Each node's distribution, as the packages step found it (by alias). */
  os: Map<string, OsRelease>;
}

/** After `start` has running instances: wait for SSH (pinning host keys), then set every node up. */
export async function setupCluster(
  ctx: ClusterContext,
  signal?: AbortSignal,
  options: SetupOptions = {},
): Promise<void> {
  await withState(ctx, ctx.nodes, options, async (state) => {
    const steps: Step<SetupState>[] = [
      waitSshStep(),
      packagesStep(),
      volumesStep(),
      hostnamesStep(),
      userStep(),
      scratchStep(),
      trustStep(),
      sharedFsStep(),
      userdataStep(),
      queueStep(),
      ...(options.skipPlugins ? [] : state.plugins.map((p) => pluginRunStep(p))),
    ];
    await runSteps(steps, state, { io: ctx.io, signal, rollbackOnFailure: false });
  });
}

/** After `addnode`/`resize` up: set the new nodes up and update every node's hosts and shares. */
export async function setupAddedNodes(
  ctx: ClusterContext,
  added: NodeRecord[],
  signal?: AbortSignal,
  options: SetupOptions = {},
): Promise<void> {
  if (added.length === 0) return;
  const all = unique([...ctx.nodes, ...added]);
  await withState({ ...ctx, nodes: all }, added, options, async (state) => {
    const steps: Step<SetupState>[] = [
      waitSshStep(),
      packagesStep(),
      hostnamesStep(),
      userStep(),
      scratchStep(),
      trustStep(),
      sharedFsStep(),
      userdataStep(),
      queueStep(),
      ...(options.skipPlugins ? [] : state.plugins.map((p) => pluginAddStep(p))),
    ];
    await runSteps(steps, state, { io: ctx.io, signal, rollbackOnFailure: false });
  });
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

function names(nodes: readonly SetupNode[]): string {
  return nodes.length <= 4 ? nodes.map((n) => n.alias).join(', ') : `${nodes.length} nodes`;
}

function hostLines(nodes: readonly SetupNode[]): sh.HostLine[] {
  return nodes.map((n) => ({ ip: n.privateIp, names: n.hostname === n.alias ? [n.alias] : [n.hostname, n.alias] }));
}

function sharedPaths(state: SetupState): string[] {
  const paths = ['/home', ...state.ctx.template.volumes.map((v) => v.mountPath)];
  return [...new Set(paths)].filter(
    (p, _i, all) => p === '/home' || !all.some((q) => q !== p && p.startsWith(`${q}/`)),
  );
}

function waitSshStep(): Step<SetupState> {
  return {
    id: 'setup-ssh',
    title: 'Waiting for SSH',
    run: async (s, report, signal) => {
      let up = 0;
      report({ detail: names(s.targets), current: 0, total: s.targets.length });
      await onNodes('waiting for ssh', s.targets, async (n) => {
        await s.access.waitFor(n, { timeoutMs: s.sshTimeoutMs, signal });
        up += 1;
        report({ detail: `${n.alias} is up`, current: up, total: s.targets.length });
      });
    },
  };
}

/**
 * What each node needs from its distribution for the steps that follow: the NFS server on the
 * master and the client on the others, or sshfs on the others. A stock image has none of it.
 */
export function packagesFor(
  sharedFs: 'nfs' | 'sshfs' | 'none',
  role: 'master' | 'node',
  clusterSize: number,
): string[] {
  if (sharedFs === 'none' || clusterSize < 2) return [];
  if (sharedFs === 'nfs') return [role === 'master' ? 'nfs-server' : 'nfs-client'];
  return role === 'master' ? [] : ['sshfs'];
}

function packagesStep(): Step<SetupState> {
  return {
    id: 'setup-packages',
    title: 'Installing packages',
    run: async (s, report, signal) => {
      let done = 0;
      const installed: string[] = [];
      await onNodes('installing packages', s.targets, async (n) => {
        const root = s.access.host(n, 'root');
        const wanted = packagesFor(s.ctx.template.sharedFs, n.record.role, s.all.length);
        const result = await installPackages(root, wanted, {
          ...(signal ? { signal } : {}),
          onRetry: (reason) => report({ detail: `${n.alias}: ${reason}` }),
        });
        s.os.set(n.alias, result.os);
        if (result.installed.length > 0) installed.push(`${n.alias}: ${result.installed.join(' ')}`);
        done += 1;
        report({ detail: `${n.alias}: ${result.os.prettyName}`, current: done, total: s.targets.length });
      });
      if (installed.length > 0)
        report({ detail: installed.length <= 4 ? installed.join('; ') : `${installed.length} nodes` });
    },
  };
}

function volumesStep(): Step<SetupState> {
  return {
    id: 'setup-volumes',
    title: 'Attaching and mounting volumes on the master',
    skip: (s) => (s.ctx.template.volumes.length === 0 ? 'no VOLUMES' : false),
    run: async (s, report, signal) => {
      const attacher = volumeAttacher(s.ctx.provider);
      const volumes = s.ctx.template.volumes;
      await Promise.all(
        volumes.map(async (v, i) => {
          await attacher.attachVolume(v.volumeId, s.master.record.id, deviceFor(v, i), signal);
          await attacher.waitVolumeAttached(v.volumeId, s.master.record.id, signal);
          report({ detail: `${v.volumeId} attached` });
        }),
      );
      const root = s.access.host(s.master, 'root');
      for (const [i, v] of volumes.entries()) {
        throwIfAborted(signal);
        const tags = (await attacher.volumeTags?.(v.volumeId)) ?? {};
        const mount = {
          volumeId: v.volumeId,
          device: deviceFor(v, i),
          mountPath: v.mountPath,
          ...(v.partition ? { partition: v.partition } : {}),
          ...(tags[TAG_MKFS] ? { mkfs: tags[TAG_MKFS] } : {}),
          ...(tags[TAG_RESIZEFS] ? { resizefs: tags[TAG_RESIZEFS] } : {}),
        };
        let script: string;
        try {
          script = sh.mountVolumeScript(mount);
        } catch (error) {
          throw new CloudError('VolumeTagInvalid', `volume ${v.volumeId}: ${(error as Error).message}`, {
            hint: `fix or remove its ${TAG_MKFS} / ${TAG_RESIZEFS} tag`,
          });
        }
        // Formatting a large volume takes a while.
        await execChecked(root, script, { timeoutMs: 900_000 });
        report({ detail: `${v.volumeId} on ${v.mountPath}`, current: i + 1, total: volumes.length });
      }
    },
  };
}

function hostnamesStep(): Step<SetupState> {
  return {
    id: 'setup-hosts',
    title: 'Setting hostnames and /etc/hosts',
    run: async (s) => {
      const hosts = sh.etcHostsScript(hostLines(s.all));
      const setsName = new Set(s.targets);
      // New nodes get their name; every node gets the full /etc/hosts.
      await onNodes('setting hostnames', s.all, (n) =>
        execChecked(s.access.host(n, 'root'), setsName.has(n) ? `${sh.hostnameScript(n.hostname)}\n${hosts}` : hosts),
      );
    },
  };
}

function userStep(): Step<SetupState> {
  return {
    id: 'setup-user',
    title: 'Creating the cluster user',
    run: async (s, report) => {
      const user = s.ctx.template.clusterUser;
      const master = s.access.host(s.master, 'root');
      // An existing cluster keeps its uid; a new one follows StarCluster's rule on the master.
      const existing = await master.exec(`id -u ${user} && id -g ${user}`);
      const picked =
        existing.code === 0 && !s.targets.includes(s.master)
          ? existing.stdout
          : (await execChecked(master, sh.pickUidScript(user))).stdout;
      const [uid, gid] = picked.trim().split(/\s+/).map(Number);
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
        throw new RemoteError(
          'UidUnknown',
          `cannot choose a uid for ${user} on the master: got ${JSON.stringify(picked.trim())}`,
        );
      }
      s.uid = uid;
      s.gid = gid;
      report({ detail: `${user} (uid ${uid})` });
      const script = sh.createUserScript(user, uid!, gid!, s.ctx.template.clusterShell);
      await onNodes(`creating user ${user}`, s.targets, (n) => execChecked(s.access.host(n, 'root'), script));
    },
  };
}

function scratchStep(): Step<SetupState> {
  return {
    id: 'setup-scratch',
    title: 'Creating scratch space',
    run: async (s) => {
      const script = sh.scratchScript(s.ctx.template.clusterUser);
      await onNodes('creating /scratch', s.targets, (n) => execChecked(s.access.host(n, 'root'), script));
    },
  };
}

/** Every node's host keys, collected in parallel, as known_hosts lines under its names and IP. */
async function collectHostKeyLines(s: SetupState, nodes: readonly SetupNode[]): Promise<string[]> {
  const keys = await onNodes(
    'reading host keys',
    nodes,
    async (n) => (await execChecked(s.access.host(n, 'root'), sh.HOST_KEYS_COMMAND)).stdout,
  );
  return nodes.flatMap((n, i) => {
    const hostNames = [...new Set([n.hostname, n.alias, n.privateIp])].join(',');
    return keys[i]!.split('\n')
      .map((l) => l.trim().split(/\s+/).slice(0, 2))
      .filter((parts) => parts.length === 2)
      .map(([type, key]) => `${hostNames} ${type} ${key}`);
  });
}

function trustStep(): Step<SetupState> {
  return {
    id: 'setup-ssh-trust',
    title: 'Passwordless SSH between nodes',
    run: async (s, report) => {
      const key = await s.access.clusterKey();
      const user = s.ctx.template.clusterUser;
      const lines = await collectHostKeyLines(s, s.all);
      report({ detail: `${lines.length} host keys` });
      const rootKeys = sh.sshKeyScript('/root', 'root', key.privateKey, key.publicKey);
      // As StarCluster: the key we log in with may log in as the cluster user too (sshmaster -u USER).
      const userKeys = sh.sshKeyScript(`/home/${user}`, user, key.privateKey, key.publicKey, [
        await s.access.loginKey(),
      ]);
      // With a shared /home the user's keys live once, on the master.
      const userOn = (n: SetupNode): boolean =>
        s.ctx.template.sharedFs === 'none' ? s.targets.includes(n) : n === s.master && s.targets.includes(n);
      const known = sh.knownHostsScript(lines);
      await onNodes('setting up passwordless ssh', s.all, (n) =>
        execChecked(
          s.access.host(n, 'root'),
          [known, ...(s.targets.includes(n) ? [rootKeys] : []), ...(userOn(n) ? [userKeys] : [])].join('\n'),
        ),
      );
    },
  };
}

function sharedFsStep(): Step<SetupState> {
  return {
    id: 'setup-shared-fs',
    title: 'Sharing /home and volumes from the master',
    skip: (s) =>
      s.ctx.template.sharedFs === 'none'
        ? 'SHARED_FS = none'
        : s.all.length < 2
          ? 'no nodes besides the master'
          : false,
    run: async (s, report) => {
      const paths = sharedPaths(s);
      const workers = s.all.filter((n) => n !== s.master);
      const newWorkers = s.targets.filter((n) => n !== s.master);
      if (s.ctx.template.sharedFs === 'nfs') {
        report({ detail: `NFS: ${paths.join(', ')}` });
        await execChecked(
          s.access.host(s.master, 'root'),
          sh.nfsExportScript(
            paths,
            workers.map((n) => n.privateIp),
          ),
          { timeoutMs: 120_000 },
        );
        const mount = sh.nfsMountScript(s.master.privateIp, paths);
        await onNodes('mounting NFS shares', newWorkers, (n) =>
          execChecked(s.access.host(n, 'root'), mount, { timeoutMs: 120_000 }),
        );
      } else {
        report({ detail: `sshfs: ${paths.join(', ')}` });
        const mount = sh.sshfsMountScript(s.master.privateIp, paths);
        await onNodes('mounting sshfs shares', newWorkers, (n) =>
          execChecked(s.access.host(n, 'root'), mount, { timeoutMs: 120_000 }),
        );
      }
    },
  };
}

function userdataStep(): Step<SetupState> {
  return {
    id: 'setup-userdata',
    title: 'Running USERDATA_SCRIPTS',
    skip: (s) =>
      s.ctx.template.userdataScripts.length === 0
        ? 'no USERDATA_SCRIPTS'
        : s.ctx.provider.kind === 'ec2'
          ? 'USERDATA_SCRIPTS ran at boot, as EC2 user data'
          : false,
    run: async (s, report) => {
      for (const [i, path] of s.ctx.template.userdataScripts.entries()) {
        const body = await readFile(path);
        registerScriptSecrets(body.toString('utf8'));
        const hash = sha256(body);
        const remote = `/var/lib/starcluster/userdata-${hash}`;
        report({ detail: path, current: i, total: s.ctx.template.userdataScripts.length });
        await onNodes(`running ${path}`, s.targets, async (n) => {
          const root = s.access.host(n, 'root');
          await execChecked(root, 'mkdir -p /var/lib/starcluster');
          await root.writeFile(remote, body, 0o755);
          await execChecked(root, sh.runOnceScript(hash, remote), { timeoutMs: 1_800_000 });
        });
      }
    },
  };
}

function queueStep(): Step<SetupState> {
  return {
    id: 'setup-queue',
    title: 'Setting up the Slurm queue',
    skip: (s) => (queueSettings(s.ctx.template).enabled ? false : 'DISABLE_QUEUE'),
    run: async (s, report, signal) => {
      await installQueue(s, s.targets, report, signal);
      await configureQueue(s, report);
    },
  };
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
