import { securityGroupName } from '../cloud/security-group.js';
import { CloudError, ConfigError } from '../errors.js';
import { nodeBinaryProblems } from '../deploy/node-runtime.js';
import { missingAliases } from '../model/aliases.js';
import type { Step } from '../steps.js';
import { launchGroups, resolveShapeImages } from './launch-plan.js';
import { checkQuota, launchCounts } from './quota-check.js';
import { imageText, planOf } from './start-plan.js';
import { launchSpecOf, type StartState } from './start-state.js';
import { problemsError, validateOffline, type Problem } from './validate.js';

/**
 * The steps of `start` before anything is made: validation (every problem at once), the look for
 * an existing cluster that makes `start` resume, and `--dry-run`'s questions to the cloud.
 */

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

export function validateStep(): Step<StartState> {
  return {
    id: 'validate',
    title: 'Validating cluster settings',
    run: async (s, report, signal) => {
      const { opts, provider } = s;
      const template = opts.template;
      for (const warning of opts.config.warnings ?? [])
        opts.io.notify({ level: 'warn', code: 'SC_CONFIG_W0001', message: warning });
      const problems: Problem[] = [];
      if (!opts.skipValidation) {
        if (!CLUSTER_NAME.test(opts.name))
          problems.push({
            kind: 'config',
            code: 'ClusterName',
            message: `cluster name "${opts.name}" must be 1-40 letters, digits, - or _, starting with a letter or digit`,
          });
        problems.push(...(await validateOffline(template)), ...(await provider.checkTemplate(template, s.shapes)));
      }
      problems.push(...(await userDataProblems(s)));
      // Images are resolved even under -V: an alias is not something the cloud can launch.
      const images = await resolveShapeImages(provider, s.shapes, template.loginUser, {
        ...(template.availabilityZone ? { zone: template.availabilityZone } : {}),
        ...(template.subnetId ? { subnetId: template.subnetId } : {}),
        ...(signal ? { signal } : {}),
      });
      s.shapes = images.shapes;
      problems.push(...images.problems);
      // The engine runtime brings Node.js to images without it: make sure it can, before anything is made.
      if ((opts.mode ?? 'create') === 'create' && !opts.createOnly && !opts.skipEngines && images.resolution) {
        const architectures = images.resolution.images.map((i) => i.architecture);
        for (const p of await nodeBinaryProblems(architectures)) problems.push({ kind: 'config', ...p });
      }
      if (!opts.skipValidation) {
        if (provider.region) report({ detail: `checking AMIs, instance types, key pair, zone in ${provider.region}` });
        const keyFileOk = !problems.some((p) => p.code.startsWith('KeyFile') || p.code === 'MissingKeyLocation');
        // `start` on a cluster made before (start -o, an interrupted start) resumes it: its volumes are attached to it.
        const own =
          template.volumes.length > 0 ? new Set((await provider.listNodes(opts.name)).map((n) => n.id)) : undefined;
        problems.push(
          ...(await provider.validateTemplate(template, { keyFileOk, ...(own ? { ownInstances: own } : {}) })),
        );
      }
      if (problems.length) throw problemsError(opts.name, problems);
      report({ detail: opts.skipValidation ? 'validation skipped (-V); images resolved' : 'all checks passed' });
    },
  };
}

/** User data is built even under -V: it is what the nodes boot with (and EC2 refuses more than 16 KB). */
async function userDataProblems(s: StartState): Promise<Problem[]> {
  try {
    const userData = await s.provider.userData(s.opts.template);
    if (userData) s.userData = userData;
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.details.map((message) => ({ kind: 'config', code: error.code, message }));
  }
}

export function inspectStep(aliases: readonly string[]): Step<StartState> {
  return {
    id: 'inspect',
    title: 'Looking for an existing cluster',
    run: async (s, report) => {
      const { opts, provider } = s;
      s.existing = await provider.listNodes(opts.name);
      if (provider.network) {
        // Within the cluster's VPC: a group of the same name in another VPC is not this cluster's.
        s.existingSg = await provider.network.findClusterGroup(securityGroupName(opts.name), opts.template.subnetId);
        if (s.usePlacementGroup) s.existingPg = await provider.network.findPlacementGroup(securityGroupName(opts.name));
      }
      const have = s.existing.map((n) => n.alias);
      if (opts.noCreate && s.existing.length === 0)
        throw new CloudError('ClusterNotFound', `cluster ${opts.name} has no instances to start (-x launches none)`, {
          hint: `leave out -x to create it: starcluster start ${opts.name}`,
        });
      const missing = opts.noCreate ? [] : missingAliases(aliases, have);
      s.missing = launchGroups(s.shapes.filter((sh) => missing.includes(sh.alias)));
      if ((opts.mode ?? 'create') === 'create' && !opts.skipValidation)
        await checkQuota({ ...s, launches: launchCounts(s.missing, s.existing) }, 'SC_START_D0001', report);
      s.plan = await planOf(s);
      // Once, before anything is made (--plan and --dry-run show them in the plan instead).
      if ((opts.mode ?? 'create') === 'create')
        for (const message of s.plan.warnings) opts.io.notify({ level: 'warn', code: 'SC_START_W0001', message });
      report({
        detail: s.existing.length
          ? `resuming: ${s.existing.length} node(s) found, ${missing.length} to add`
          : `new cluster: ${missing.length} node(s) to launch`,
      });
    },
  };
}

/** `--dry-run`: the cloud is asked whether each request would succeed (EC2's DryRun); nothing is made. */
export function dryRunStep(): Step<StartState> {
  return {
    id: 'dry-run',
    title: 'Asking EC2 whether each request would succeed (DryRun)',
    run: async (s) => {
      const name = securityGroupName(s.opts.name);
      if (!s.existingSg && s.provider.network) {
        await s.provider.network.dryRunGroup(name);
        s.dryRun.push(`CreateSecurityGroup ${name}: would succeed`);
      }
      for (const g of s.missing) {
        await s.provider.dryRunLaunch?.(launchSpecOf(s, g, undefined, undefined));
        s.dryRun.push(`RunInstances ${g.aliases.length} × ${g.instanceType} ${imageText(g)}: would succeed`);
      }
    },
  };
}
