import type { ClusterGroup, NodeRecord, Provider } from '../cloud/provider.js';
import type { ProviderKind } from '../config/types.js';
import { AbortError } from '../errors.js';
import { runSteps, type Step } from '../steps.js';
import { stopEngines } from '../deploy/index.js';
import { shutdownCluster } from '../setup/index.js';
import { openCluster, type ClusterTarget, type OpenedCluster } from '../cloud/open.js';
import { securityGroupName } from '../cloud/security-group.js';

export interface TerminateOptions extends ClusterTarget {
  /** `-c/--confirm`: do not ask. */
  confirm?: boolean;
  /** `-f/--force`: skip the shutdown hooks (nodes unreachable, plugins broken). */
  force?: boolean;
  /** Skip the node/engine hooks (tests about the cloud side only). */
  skipHooks?: boolean;
}

export interface TerminateResult {
  name: string;
  provider: ProviderKind;
  terminated: string[];
  cancelledSpotRequests: string[];
  deletedSecurityGroups: string[];
  deletedPlacementGroup: boolean;
  /**
   * The placement group left in place because instances that are not the cluster's run in it
   * (kept by `removenode -k`): EC2 deletes only an empty group. `terminate NAME` again deletes it.
   */
  keptPlacementGroup?: { name: string; heldBy: string[] };
  /** Nothing was there (terminate is idempotent). */
  alreadyGone: boolean;
  /** The user said no at the prompt. */
  declined?: boolean;
}

interface TerminateState {
  opts: TerminateOptions;
  cluster: OpenedCluster;
  provider: Provider;
  nodes: NodeRecord[];
  groups: ClusterGroup[];
  result: TerminateResult;
}

/**
 * `starcluster terminate NAME`: engines and shutdown hooks (tolerating unreachable nodes), then
 * instances, spot requests, wait until terminated, placement group, security group (retried
 * while EC2 still sees it in use). Works from tags alone and is idempotent. Nothing is rolled
 * back: an interrupted terminate is finished by running it again.
 */
export async function terminateCluster(opts: TerminateOptions): Promise<TerminateResult> {
  const cluster = await openCluster(opts.name, {
    io: opts.io,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  const { provider, nodes } = cluster;
  const network = provider.network;
  const groups = network ? await network.clusterGroups(opts.name) : [];
  const result: TerminateResult = {
    name: opts.name,
    provider: provider.kind,
    terminated: [],
    cancelledSpotRequests: [],
    deletedSecurityGroups: [],
    deletedPlacementGroup: false,
    alreadyGone: false,
  };
  const pgExists = network ? await network.findPlacementGroup(securityGroupName(opts.name)) : false;
  const spotOpen = await provider.spotRequests(
    opts.name,
    nodes.map((n) => n.id),
  );
  const shuttingDown = await provider.shuttingDown(opts.name);
  if (nodes.length === 0 && groups.length === 0 && !pgExists && spotOpen.length === 0 && shuttingDown.length === 0) {
    result.alreadyGone = true;
    opts.io.notify({
      level: 'info',
      code: 'SC_TERMINATE_I0001',
      message: `cluster ${opts.name} has nothing left to terminate`,
    });
    return result;
  }
  if (!opts.confirm) {
    const ok = await opts.io.requestConfirm(
      `Terminate cluster ${opts.name} (${nodes.length} node${nodes.length === 1 ? '' : 's'})? Everything on it is lost.`,
      false,
    );
    if (!ok) return { ...result, declined: true };
  }

  const state: TerminateState = { opts, cluster, provider, nodes, groups, result };
  const steps = terminateSteps(pgExists);
  try {
    await runSteps(steps, state, {
      io: opts.io,
      rollbackOnFailure: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (error) {
    if (error instanceof AbortError) throw new AbortError('interrupted: run `starcluster terminate` again to finish');
    throw error;
  }
  return result;
}

/** Hooks (tolerating unreachable nodes), instances and spot requests, the wait, placement group, security groups. */
function terminateSteps(pgExists: boolean): Step<TerminateState>[] {
  return [
    {
      id: 'hooks',
      title: 'Stopping engines and running shutdown hooks',
      skip: (s) =>
        s.opts.skipHooks ? 'hooks skipped' : s.opts.force ? 'forced (-f)' : s.nodes.length === 0 ? 'no nodes' : false,
      run: async (s) => {
        const ctx = s.cluster.ctx;
        // Nodes may be unreachable: a hook failure is a warning, never a reason to keep paying.
        for (const [what, hook] of [
          ['stop engines', () => stopEngines(ctx)],
          // Node setup (and so its shutdown hooks) exists only for machines.
          ['shutdown hooks', () => (s.provider.nodesAreMachines ? shutdownCluster(ctx) : Promise.resolve())],
        ] as const) {
          try {
            await hook();
          } catch (error) {
            s.opts.io.notify({
              level: 'warn',
              code: 'SC_TERMINATE_W0001',
              message: `${what} failed (${error instanceof Error ? error.message : String(error)}); terminating anyway`,
            });
          }
        }
      },
    },
    {
      id: 'instances',
      title: 'Terminating instances',
      run: async (s, report) => {
        const ids = s.nodes.map((n) => n.id);
        await s.provider.terminate(ids);
        s.result.terminated = ids;
        const spot = await s.provider.spotRequests(s.opts.name, ids);
        await s.provider.cancelSpotRequests(spot);
        s.result.cancelledSpotRequests = spot;
        report({ detail: `${ids.length} instance(s)` });
      },
    },
    {
      id: 'wait-terminated',
      title: 'Waiting for instances to terminate',
      run: async (s, report, signal) => {
        // Anything that appeared since the listing (a start racing us) goes too.
        const { extra, waitedFor } = await s.provider.finishTerminating(s.opts.name, s.result.terminated, signal);
        s.result.terminated.push(...extra);
        report({ detail: `${waitedFor.length} shut down` });
      },
    },
    {
      id: 'placement-group',
      title: 'Deleting placement group',
      skip: () => (pgExists ? false : 'none'),
      run: async (s, report) => {
        const name = securityGroupName(s.opts.name);
        const heldBy = (await s.provider.network?.deletePlacementGroup(name)) ?? [];
        if (heldBy.length === 0) {
          s.result.deletedPlacementGroup = true;
          return;
        }
        s.result.keptPlacementGroup = { name, heldBy };
        report({ detail: `kept: ${heldBy.join(', ')} still in it` });
        s.opts.io.notify({
          level: 'warn',
          code: 'SC_TERMINATE_W0002',
          message:
            `placement group ${name} kept: ${heldBy.join(', ')} still ${heldBy.length === 1 ? 'runs' : 'run'} in it ` +
            '(not part of the cluster: kept by `removenode -k`, or put there by hand), and EC2 deletes only an empty ' +
            'placement group and moves only a stopped instance out of one. An empty placement group costs nothing. ' +
            `Once ${heldBy.length === 1 ? 'it is' : 'they are'} terminated (or stopped and moved out), run ` +
            `\`starcluster terminate ${s.opts.name}\` again, or \`aws ec2 delete-placement-group --group-name ${name}\``,
        });
      },
    },
    {
      id: 'security-group',
      title: 'Deleting security group',
      skip: (s) => (s.groups.length ? false : 'none'),
      run: async (s, _report, signal) => {
        for (const g of s.groups) {
          const moved = (await s.provider.network?.deleteGroup(g.id, signal)) ?? [];
          if (moved.length)
            s.opts.io.notify({
              level: 'warn',
              code: 'SC_TERMINATE_W0003',
              message:
                `${moved.join(', ')} (kept running by an older \`removenode -k\`) moved out of ${g.name} ` +
                "(to its other groups, else the VPC's default group) so that the group could be deleted; left running",
            });
          s.result.deletedSecurityGroups.push(g.id);
        }
      },
    },
  ];
}
