import type { ClusterNetwork } from '../cloud/provider.js';
import { missingRules, securityGroupName } from '../cloud/security-group.js';
import { startEngines } from '../deploy/index.js';
import { CloudError, StarclusterError } from '../errors.js';
import type { NodeRecord } from '../model/node.js';
import {
  STARCLUSTER_VERSION,
  TAG_CLUSTER,
  TAG_DESCRIPTION,
  TAG_RUN,
  TAG_TEMPLATE,
  TAG_VERSION,
} from '../model/tags.js';
import { setupCluster } from '../setup/index.js';
import type { Step } from '../steps.js';
import type { LaunchGroup } from './launch-plan.js';
import { contextOf, launchSpecOf, type StartState } from './start-state.js';

/**
 * The steps of `start` that make things, each with the rollback of what it made: the cluster's
 * network (where the provider has one), stopped nodes started, instances launched (every zone
 * tried where the template lets start choose), waited for, set up, engines started.
 */
export function createSteps(network: ClusterNetwork | undefined): Step<StartState>[] {
  return [
    ...(network ? [securityGroupStep(network), placementGroupStep(network)] : []),
    startStoppedStep(),
    launchStep(),
    waitRunningStep(),
    setupStep(),
    enginesStep(),
  ];
}

function securityGroupStep(network: ClusterNetwork): Step<StartState> {
  return {
    id: 'security-group',
    title: 'Security group',
    run: async (s, report) => {
      const name = securityGroupName(s.opts.name);
      const group = s.existingSg;
      if (!group) {
        // Mark it as made before the call returns: a half-made group is still ours to undo.
        s.sgCreated = true;
        const made = await network.createGroup({
          cluster: s.opts.name,
          name,
          description: `StarCluster ${s.opts.name}`,
          tags: {
            ...s.opts.template.tags,
            [TAG_CLUSTER]: s.opts.name,
            [TAG_TEMPLATE]: s.opts.template.name,
            [TAG_VERSION]: STARCLUSTER_VERSION,
            [TAG_RUN]: s.runId,
            ...(s.opts.description ? { [TAG_DESCRIPTION]: s.opts.description.slice(0, 255) } : {}),
          },
          runId: s.runId,
          ...(s.opts.template.subnetId ? { subnetId: s.opts.template.subnetId } : {}),
        });
        s.sgId = made.id;
        s.rules = await network.resolveRules(s.rules, made.vpcId);
        await network.authorize(made.id, s.rules);
        report({ detail: `${name} (${s.sgId}) created, ${s.rules.length} rules` });
        return;
      }
      s.sgId = group.id;
      s.rules = await network.resolveRules(s.rules, group.vpcId);
      const add = missingRules(s.rules, group.rules);
      await network.authorize(group.id, add);
      report({ detail: `${name} (${group.id}) reused${add.length ? `, ${add.length} rule(s) added` : ''}` });
    },
    rollback: async (s) => {
      if (!s.sgCreated) return;
      const id =
        s.sgId ?? (await network.findClusterGroup(securityGroupName(s.opts.name), s.opts.template.subnetId))?.id;
      if (id) await network.deleteGroup(id);
    },
  };
}

function placementGroupStep(network: ClusterNetwork): Step<StartState> {
  return {
    id: 'placement-group',
    title: 'Placement group',
    skip: (s) =>
      !s.usePlacementGroup
        ? 'the instance types cannot use a cluster placement group'
        : s.existingPg
          ? `${securityGroupName(s.opts.name)} exists`
          : false,
    run: async (s, report) => {
      s.pgCreated = true;
      const made = await network.createPlacementGroup(securityGroupName(s.opts.name), {
        ...s.opts.template.tags,
        [TAG_CLUSTER]: s.opts.name,
        [TAG_RUN]: s.runId,
      });
      if (!made) {
        s.pgCreated = false;
        s.usePlacementGroup = false;
        report({ detail: 'this endpoint has no placement groups; launching without one' });
      }
    },
    rollback: async (s) => {
      if (!s.pgCreated) return;
      const name = securityGroupName(s.opts.name);
      const heldBy = await network.deletePlacementGroup(name);
      if (heldBy.length)
        throw new CloudError('PlacementGroupInUse', `placement group ${name} is still used by ${heldBy.join(', ')}`, {
          hint: `run \`starcluster terminate ${s.opts.name}\` once they are gone`,
        });
    },
  };
}

function startStoppedStep(): Step<StartState> {
  return {
    id: 'start-stopped',
    title: 'Starting stopped nodes',
    skip: (s) => (s.existing.some((n) => n.state === 'stopped') ? false : 'no stopped nodes'),
    run: async (s) => {
      const stopped = s.existing.filter((n) => n.state === 'stopped').map((n) => n.id);
      await s.provider.power?.start(stopped);
    },
  };
}

function launchStep(): Step<StartState> {
  return {
    id: 'launch',
    title: 'Launching instances',
    skip: (s) => (s.missing.length === 0 ? 'every node exists' : false),
    run: async (s, report) => {
      const total = s.missing.reduce((n, g) => n + g.aliases.length, 0);
      let zone = s.opts.template.availabilityZone ?? s.existing.find((n) => n.role === 'master')?.zone;
      // Where the template leaves the zone to the cloud (no AVAILABILITY_ZONE, no SUBNET_ID, no master
      // yet), a zone without capacity is not the end: the other zones of the region are tried in turn.
      const zoneIsFree = !s.opts.template.availabilityZone && !s.opts.template.subnetId && zone === undefined;
      for (const group of s.missing) {
        // Not passing the signal: a launch in flight completes, then the rollback removes it.
        const made = await launchAnywhere(s, group, zone, zoneIsFree && s.launched.length === 0, report);
        s.launched.push(...made);
        // Keep every node in the master's zone (placement groups and volumes need one zone).
        zone ??= made.find((n) => n.role === 'master')?.zone;
        report({
          current: s.launched.length,
          total,
          detail: group.instanceType
            ? `${group.aliases.length} × ${group.instanceType}`
            : `${group.aliases.length} node(s)`,
        });
        if (s.opts.signal?.aborted) return;
      }
    },
    // Whatever this run launched, seen or not (by the run tag), and its spot requests.
    rollback: (s) =>
      s.provider.terminateRun(
        s.opts.name,
        s.runId,
        s.launched.map((n) => n.id),
        { wait: true },
      ),
  };
}

/**
 * Launches a group; when the cloud has no capacity for it (or does not offer the type) in the zone
 * it chose and the template lets us choose, tries each other zone of the region before giving up.
 * The error of the last try, which says what to do, is what the user sees.
 */
async function launchAnywhere(
  s: StartState,
  group: LaunchGroup,
  zone: string | undefined,
  mayMove: boolean,
  report: (r: { detail: string }) => void,
): Promise<NodeRecord[]> {
  try {
    return await s.provider.launch(launchSpecOf(s, group, s.sgId, zone));
  } catch (error) {
    if (!mayMove || !s.provider.isZoneSpecific(error)) throw error;
    const zones = await s.provider.launchZones();
    let last: unknown = error;
    for (const other of zones) {
      if (s.opts.signal?.aborted) break;
      report({ detail: `${last instanceof Error ? last.message : String(last)}; trying ${other}` });
      try {
        return await s.provider.launch(launchSpecOf(s, { ...group }, s.sgId, other, other));
      } catch (next) {
        if (!s.provider.isZoneSpecific(next)) throw next;
        last = next;
      }
    }
    throw new CloudError(
      StarclusterError.is(last) ? last.code : 'Ec2InsufficientInstanceCapacity',
      `${StarclusterError.is(last) ? last.message : String(last)} (tried ${zones.length ? `every zone: ${zones.join(', ')}` : 'the zone EC2 chose'})`,
      { cause: last, ...(StarclusterError.is(last) && last.hint ? { hint: last.hint } : {}) },
    );
  }
}

function waitRunningStep(): Step<StartState> {
  return {
    id: 'wait-running',
    title: 'Waiting for nodes to run',
    run: async (s, report, signal) => {
      const ids = [...s.existing.map((n) => n.id), ...s.launched.map((n) => n.id)];
      report({ current: 0, total: ids.length });
      await s.provider.waitRunning(ids, signal);
      s.nodes = await s.provider.listNodes(s.opts.name);
      const running = s.nodes.filter((n) => n.state === 'running').length;
      report({ current: running, total: ids.length });
    },
  };
}

function setupStep(): Step<StartState> {
  return {
    id: 'setup',
    title: 'Setting up nodes',
    skip: (s) =>
      !s.provider.nodesAreMachines
        ? 'local nodes need no setup'
        : s.opts.createOnly
          ? 'create only (-o)'
          : s.opts.skipSetup
            ? 'setup skipped'
            : false,
    run: async (s, _report, signal) => {
      await setupCluster(contextOf(s), signal);
    },
  };
}

function enginesStep(): Step<StartState> {
  return {
    id: 'engines',
    title: 'Starting engines',
    skip: (s) => (s.opts.createOnly ? 'create only (-o)' : s.opts.skipEngines ? 'engines skipped' : false),
    run: async (s, _report, signal) => {
      await startEngines(contextOf(s), signal);
    },
  };
}
