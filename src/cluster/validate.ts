import type { ClusterTemplate } from '../config/types.js';
import type { StarclusterError } from '../errors.js';
import { CloudError, ConfigError } from '../errors.js';
import type { LaunchProblem } from '../cloud/provider.js';
import { checkPlugins } from '../setup/plugin-loader.js';

/**
 * Everything `start` checks before it creates anything, all reported at once (StarCluster's
 * ClusterValidator, plus ParallelCluster's habit of listing every failure). A problem is `config`
 * when the fix is in the config file or on this machine (exit 3), `cloud` when the config names
 * something the cloud does not have (exit 4); the error's exit code is 3 when any problem is
 * `config`.
 */
export type Problem = LaunchProblem;

export function problemsError(cluster: string, problems: readonly Problem[]): StarclusterError {
  const details = problems.map((p) => p.message);
  const message = `cluster "${cluster}" is not valid: ${problems.length} problem${problems.length === 1 ? '' : 's'} found, nothing was created`;
  const first = problems[0]?.code ?? 'Invalid';
  const code = problems.length === 1 ? first : 'ClusterValidationFailed';
  return problems.some((p) => p.kind === 'config')
    ? new ConfigError(code, message, { details })
    : new CloudError(code, message, { details });
}

/** Checks that need no cloud: sizes, counts, the spot bid, the plugins (the cloud's own: Provider.checkTemplate). */
export async function validateOffline(template: ClusterTemplate): Promise<Problem[]> {
  const problems: Problem[] = [];
  const add = (code: string, message: string): void => void problems.push({ kind: 'config', code, message });
  if (!Number.isInteger(template.clusterSize) || template.clusterSize < 1)
    add('ClusterSize', `CLUSTER_SIZE ${template.clusterSize} must be a whole number of at least 1`);
  const explicit = template.nodeInstanceTypes.reduce((n, t) => n + t.count, 0);
  if (explicit > Math.max(0, template.clusterSize - 1))
    add(
      'InstanceTypeCounts',
      `NODE_INSTANCE_TYPE counts add up to ${explicit}, more than the ${template.clusterSize - 1} worker nodes of CLUSTER_SIZE ${template.clusterSize}`,
    );
  if (template.spotBid !== undefined && !(template.spotBid > 0))
    add('SpotBid', `SPOT_BID ${template.spotBid} must be a price above 0 (USD per hour)`);
  // A plugin that cannot be loaded fails here, before anything is created (not after launch).
  for (const problem of (await checkPlugins(template.plugins)).problems) add('PluginInvalid', problem);
  return problems;
}
