import type { LaunchCount, NodeRecord, Provider } from '../cloud/provider.js';
import type { IoHost } from '../io-host.js';
import type { StepReport } from '../steps.js';
import type { LaunchGroup } from './launch-plan.js';
import { problemsError } from './validate.js';

/** What a launch of these groups (and a start of these stopped nodes) asks of the account's quotas. */
export function launchCounts(missing: readonly LaunchGroup[], existing: readonly NodeRecord[] = []): LaunchCount[] {
  return [
    ...missing.map((g) => ({ instanceType: g.instanceType, count: g.aliases.length, spot: g.spotBid !== undefined })),
    ...existing
      .filter((n) => n.state === 'stopped')
      .map((n) => ({ instanceType: n.instanceType, count: 1, spot: n.spotRequestId !== undefined })),
  ];
}

/**
 * Before anything is made: do the nodes this start or addnode launches (and the stopped ones a
 * start starts) fit the account's quotas? A new account's vCPU quota is small, and EC2 would
 * otherwise refuse part of the way through the launch. Where the provider cannot tell (no
 * permission, no such service at the endpoint), the reason goes to the debug log and the launch
 * goes ahead.
 */
export async function checkQuota(
  s: { opts: { name: string; io: IoHost }; provider: Provider; launches: readonly LaunchCount[] },
  /** The debug code of the notes (`SC_START_D0001`, `SC_ADDNODE_D0001`). */
  code: string,
  report?: (r: StepReport) => void,
): Promise<void> {
  if (!s.provider.checkLaunchQuota || s.launches.length === 0) return;
  report?.({ detail: "checking the account's vCPU quota" });
  const check = await s.provider.checkLaunchQuota(s.launches);
  for (const message of check.notes) s.opts.io.notify({ level: 'debug', code, message });
  if (check.problems.length) throw problemsError(s.opts.name, check.problems);
}
