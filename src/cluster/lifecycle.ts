import { notSupported } from '../cloud/provider.js';
import { CloudError } from '../errors.js';
import { runSteps } from '../steps.js';
import { startEngines, stopEngines } from '../deploy/index.js';
import { rebootWatched, restartHooks, setupCluster, shutdownCluster } from '../setup/index.js';
import { existingNodes, openCluster, type ClusterTarget } from '../cloud/open.js';
import { sortNodes } from '../model/context.js';
import { summariseNode, type NodeSummary } from './summary.js';

export interface LifecycleOptions extends ClusterTarget {
  confirm?: boolean;
  skipHooks?: boolean;
}

export interface LifecycleResult {
  name: string;
  stopped: string[];
  /** Spot or instance-store nodes that cannot stop (terminated only with `terminateUnstoppable`). */
  terminated: string[];
  rebooted: string[];
  nodes: NodeSummary[];
  declined?: boolean;
}

async function loadCluster(opts: LifecycleOptions) {
  const cluster = await openCluster(opts.name, {
    io: opts.io,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  const power = cluster.provider.power;
  if (!power)
    throw notSupported(
      cluster.provider.kind,
      `cannot stop, start or reboot the nodes of cluster ${opts.name}`,
      'terminate it and start it again',
    );
  const nodes = existingNodes(cluster);
  return { provider: cluster.provider, power, nodes, ctx: cluster.ctx };
}

/**
 * `stop NAME`: shutdown hooks, then stops the EBS-backed on-demand nodes (their disks, the
 * security group and tags are kept; `start` resumes the cluster). Spot nodes cannot stop: they
 * are refused unless `terminateUnstoppable` (StarCluster's -t).
 */
export async function stopCluster(
  opts: LifecycleOptions & { terminateUnstoppable?: boolean },
): Promise<LifecycleResult> {
  const { provider, power, nodes, ctx } = await loadCluster(opts);
  const unstoppable = nodes.filter((n) => n.spotRequestId);
  if (unstoppable.length && !opts.terminateUnstoppable)
    throw new CloudError(
      'UnstoppableNodes',
      `cluster ${opts.name} has spot nodes that cannot be stopped: ${unstoppable.map((n) => n.alias).join(', ')}`,
      { hint: 'use `stop -t` to terminate them and stop the rest' },
    );
  if (!opts.confirm) {
    const ok = await opts.io.requestConfirm(`Stop cluster ${opts.name} (${nodes.length} nodes)?`, false);
    if (!ok) return { name: opts.name, stopped: [], terminated: [], rebooted: [], nodes: [], declined: true };
  }
  const stoppable = nodes.filter((n) => !n.spotRequestId && n.state !== 'stopped');
  await runSteps(
    [
      {
        id: 'hooks',
        title: 'Stopping engines and running shutdown hooks',
        skip: () => (opts.skipHooks ? 'hooks skipped' : false),
        run: async () => {
          for (const hook of [() => stopEngines(ctx), () => shutdownCluster(ctx)]) {
            try {
              await hook();
            } catch (error) {
              opts.io.notify({
                level: 'warn',
                code: 'SC_STOP_W0001',
                message: `shutdown hook failed (${error instanceof Error ? error.message : String(error)}); stopping anyway`,
              });
            }
          }
        },
      },
      {
        id: 'stop',
        title: 'Stopping instances',
        run: async (_s, report, signal) => {
          if (unstoppable.length) await provider.terminate(unstoppable.map((n) => n.id));
          await power.stop(
            stoppable.map((n) => n.id),
            signal,
          );
          report({ detail: `${stoppable.length} stopped` });
        },
      },
    ],
    {},
    { io: opts.io, rollbackOnFailure: false, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  return {
    name: opts.name,
    stopped: stoppable.map((n) => n.id),
    terminated: unstoppable.map((n) => n.id),
    rebooted: [],
    nodes: sortNodes(await provider.listNodes(opts.name)).map((n) => summariseNode(n)),
  };
}

/**
 * `restart NAME` (reboot): plugins' onRestart hooks, reboots every node and waits until each has
 * gone down (its SSH session ends: rebootWatched), then reruns setup and engines unless `rebootOnly`.
 */
export async function restartCluster(opts: LifecycleOptions & { rebootOnly?: boolean }): Promise<LifecycleResult> {
  const { power, nodes, ctx } = await loadCluster(opts);
  const ids = nodes.filter((n) => n.state === 'running').map((n) => n.id);
  await runSteps(
    [
      {
        id: 'stop-engines',
        title: 'Stopping engines',
        skip: () => (opts.skipHooks ? 'hooks skipped' : false),
        run: async () => {
          await stopEngines(ctx).catch(() => undefined);
        },
      },
      {
        id: 'restart-hooks',
        title: 'Running plugin restart hooks',
        skip: () => (opts.skipHooks ? 'hooks skipped' : ctx.template.plugins.length === 0 ? 'no plugins' : false),
        run: () => restartHooks(ctx),
      },
      {
        id: 'reboot',
        title: 'Rebooting nodes',
        run: async (_s, _r, signal) => {
          // Hooks skipped: nodes are not reached over SSH, so the reboot cannot be watched.
          if (opts.skipHooks) return power.reboot(ids, signal);
          const unwatched = await rebootWatched(ctx, ids, () => power.reboot(ids, signal), signal ? { signal } : {});
          if (unwatched.length)
            opts.io.notify({
              level: 'warn',
              code: 'SC_RESTART_W0001',
              message: `could not reach ${unwatched.join(', ')} before rebooting; setup may find the old boot`,
            });
        },
      },
      {
        id: 'setup',
        title: 'Setting up nodes',
        skip: () => (opts.rebootOnly ? 'reboot only (-o)' : opts.skipHooks ? 'hooks skipped' : false),
        run: (_s, _r, signal) => setupCluster(ctx, signal),
      },
      {
        id: 'engines',
        title: 'Starting engines',
        skip: () => (opts.rebootOnly ? 'reboot only (-o)' : opts.skipHooks ? 'hooks skipped' : false),
        run: (_s, _r, signal) => startEngines(ctx, signal),
      },
    ],
    {},
    { io: opts.io, rollbackOnFailure: false, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  return { name: opts.name, stopped: [], terminated: [], rebooted: ids, nodes: nodes.map((n) => summariseNode(n)) };
}
