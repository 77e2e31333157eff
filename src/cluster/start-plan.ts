import { describeRule, securityGroupName } from '../cloud/security-group.js';
import { costText, estimateCost, type PricedNode } from './cost.js';
import type { LaunchGroup } from './launch-plan.js';
import type { PlanAction, StartPlan, StartState } from './start-state.js';

/** What `start` will do, with what the cluster will cost per hour once made. */
export async function planOf(s: StartState): Promise<StartPlan> {
  const { region, regionSource } = s.provider;
  const name = s.opts.name;
  const actions: PlanAction[] = [];
  if (s.provider.network) {
    const sg = securityGroupName(name);
    actions.push(
      s.existingSg
        ? { verb: 'reuse', resource: 'security-group', name: sg, detail: s.existingSg.id }
        : {
            verb: 'create',
            resource: 'security-group',
            name: sg,
            detail: s.rules.map(describeRule).join('; '),
          },
    );
    if (s.usePlacementGroup)
      actions.push({
        verb: s.existingPg ? 'reuse' : 'create',
        resource: 'placement-group',
        name: sg,
        detail: 'cluster strategy',
      });
  }
  const stopped = s.existing.filter((n) => n.state === 'stopped');
  if (stopped.length)
    actions.push({
      verb: 'start',
      resource: 'instances',
      name: stopped.map((n) => n.alias).join(','),
      detail: `${stopped.length} stopped`,
    });
  const live = s.existing.filter((n) => n.state !== 'stopped');
  if (live.length)
    actions.push({
      verb: 'reuse',
      resource: 'instances',
      name: live.map((n) => n.alias).join(','),
      detail: `${live.length} found`,
    });
  for (const g of s.missing) {
    actions.push({
      verb: 'create',
      resource: 'instances',
      name: g.aliases.length > 3 ? `${g.aliases[0]}..${g.aliases[g.aliases.length - 1]}` : g.aliases.join(','),
      detail: `${g.aliases.length} × ${g.instanceType} ${imageText(g)}${g.spotBid !== undefined ? ` spot (bid $${g.spotBid}/h)` : ' on-demand'}${g.loginUser ? `, login ${g.loginUser}` : ''}`,
      ...(g.imageId ? { imageId: g.imageId } : {}),
      ...(g.requestedImage ? { requestedImage: g.requestedImage } : {}),
    });
  }
  // Cost of the whole cluster once made: existing nodes at their type, new ones at theirs; spot
  // nodes at the spot price where they run (new ones: the template's or master's zone, if known).
  const zone = s.opts.template.availabilityZone ?? s.existing.find((n) => n.role === 'master')?.zone;
  const nodes: PricedNode[] = [
    ...s.existing.map((n) => ({
      instanceType: n.instanceType,
      ...(n.spotRequestId ? { spot: n.zone ? { zone: n.zone } : {} } : {}),
    })),
    ...s.missing.flatMap((g) =>
      g.aliases.map(() => ({
        instanceType: g.instanceType,
        ...(g.spotBid !== undefined ? { spot: { bid: g.spotBid, ...(zone ? { zone } : {}) } } : {}),
      })),
    ),
  ];
  const cost = await estimateCost(s.provider, nodes);
  return {
    cluster: name,
    provider: s.provider.kind,
    ...(region ? { region } : {}),
    ...(region && regionSource ? { regionSource } : {}),
    actions,
    hourlyCostUsd: cost.hourlyCostUsd,
    costIsEstimate: true,
    unpricedTypes: cost.unpricedTypes,
    noPrice: cost.noPrice,
    ...(cost.spotBasis ? { spotBasis: cost.spotBasis } : {}),
    priced: s.provider.priceQuote !== undefined,
    warnings: s.provider.templateWarnings(s.opts.template),
  };
}

/** `debian-12 → ami-0abc…` for an alias, else the AMI id. */
export function imageText(g: LaunchGroup): string {
  return g.requestedImage ? `${g.requestedImage} → ${g.imageId}` : g.imageId;
}

/** Human form of a plan (for `start --plan`). */
export function renderPlan(plan: StartPlan): string {
  const where = plan.region ? `, ${plan.region}${plan.regionSource ? ` from ${plan.regionSource}` : ''}` : '';
  const lines = [`Plan for cluster ${plan.cluster} (${plan.provider}${where}):`];
  const sign = { create: '+', reuse: '=', start: '>' } as const;
  for (const a of plan.actions) lines.push(`  ${sign[a.verb]} ${a.verb} ${a.resource} ${a.name}: ${a.detail}`);
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  if (plan.priced) lines.push(`Estimated cost: ${costText(plan)}`);
  return lines.join('\n');
}
