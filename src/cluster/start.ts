import { randomUUID } from 'node:crypto';
import { createProvider } from '../cloud/index.js';
import { planIngressRules, securityGroupName } from '../cloud/security-group.js';
import type { ProviderKind } from '../config/types.js';
import { clusterAliases } from '../model/aliases.js';
import { sortNodes } from '../model/context.js';
import { runSteps, type Step } from '../steps.js';
import { nodeShapes } from './launch-plan.js';
import { dryRunStep, inspectStep, validateStep } from './start-preflight.js';
import { planOf, renderPlan } from './start-plan.js';
import type { StartMode, StartOptions, StartPlan, StartState } from './start-state.js';
import { createSteps } from './start-steps.js';
import { summariseNode, type NodeSummary } from './summary.js';

export { applyStartFlags, type StartFlags } from './start-flags.js';
export { renderPlan } from './start-plan.js';
export type { PlanAction, StartMode, StartOptions, StartPlan } from './start-state.js';

export interface StartResult {
  name: string;
  mode: StartMode;
  provider: ProviderKind;
  region?: string;
  plan: StartPlan;
  /** True when the cluster already had nodes or a security group (start resumed it). */
  resumed: boolean;
  created: { securityGroupId?: string; placementGroup?: string; instanceIds: string[] };
  /** DryRun answers (mode dry-run). */
  dryRun?: string[];
  /** The user said no when asked to launch (nothing was created). */
  declined?: true;
  nodes: NodeSummary[];
}

/**
 * `starcluster start`: validate everything, plan, then security group → placement group →
 * instances (one launch per type/AMI group, tags at creation) → wait running → node setup →
 * engines. A failure or Ctrl-C rolls back what this run made; on a cluster that already exists
 * (by tags) it resumes: the security group and nodes found are reused, missing nodes added.
 */
export async function startCluster(opts: StartOptions): Promise<StartResult> {
  const mode = opts.mode ?? 'create';
  const provider = opts.provider ?? (await createProvider(opts.template, opts.config));
  const template = opts.template;
  const aliases = clusterAliases(template.clusterSize);
  const shapes = nodeShapes(template, aliases);
  const state: StartState = {
    opts,
    provider,
    runId: randomUUID(),
    shapes,
    existing: [],
    existingPg: false,
    rules: planIngressRules(template.sshCidr, template.permissions),
    usePlacementGroup:
      shapes.length > 1 && (provider.network?.placementFits(shapes.map((s) => s.instanceType)) ?? false),
    missing: [],
    sgCreated: false,
    pgCreated: false,
    launched: [],
    nodes: [],
    dryRun: [],
  };
  const steps: Step<StartState>[] = [
    validateStep(),
    ...(mode !== 'validate-only' ? [inspectStep(aliases)] : []),
    ...(mode === 'dry-run' && provider.dryRunLaunch ? [dryRunStep()] : []),
  ];
  const run = { io: opts.io, ...(opts.signal ? { signal: opts.signal } : {}) };
  await runSteps(steps, state, run);

  const plan = state.plan ?? (await planOf(state));
  if (mode === 'create' && opts.confirm && plan.priced && state.missing.length > 0 && !(await askToLaunch(state, plan)))
    return { ...resultOf(state, plan, state.existing), declined: true };
  if (mode === 'create') await runSteps(createSteps(provider.network), state, run);
  if (mode !== 'create')
    return { ...resultOf(state, plan, state.existing), ...(mode === 'dry-run' ? { dryRun: state.dryRun } : {}) };
  return {
    ...resultOf(state, plan, state.nodes),
    created: {
      ...(state.sgCreated && state.sgId ? { securityGroupId: state.sgId } : {}),
      ...(state.pgCreated ? { placementGroup: securityGroupName(opts.name) } : {}),
      instanceIds: state.launched.map((n) => n.id),
    },
  };
}

/** Ray's `ray up` asks; StarCluster did not, and its users paid for clusters they forgot. */
async function askToLaunch(s: StartState, plan: StartPlan): Promise<boolean> {
  const count = s.missing.reduce((n, g) => n + g.aliases.length, 0);
  s.opts.io.notify({ level: 'info', code: 'SC_START_I0001', message: renderPlan(plan) });
  const cost = plan.unpricedTypes.length
    ? ` (${plan.noPrice.join('; ')})`
    : plan.hourlyCostUsd > 0
      ? ` for about $${plan.hourlyCostUsd.toFixed(4)}/hour`
      : '';
  return s.opts.io.requestConfirm(
    `Launch ${count} instance${count === 1 ? '' : 's'} for cluster ${s.opts.name}${cost}?`,
    false,
  );
}

function resultOf(s: StartState, plan: StartPlan, nodes: StartState['nodes']): StartResult {
  return {
    name: s.opts.name,
    mode: s.opts.mode ?? 'create',
    provider: s.provider.kind,
    ...(s.provider.region ? { region: s.provider.region } : {}),
    plan,
    resumed: s.existing.length > 0 || Boolean(s.existingSg),
    created: { instanceIds: [] },
    nodes: sortNodes(nodes).map((n) => summariseNode(n)),
  };
}
