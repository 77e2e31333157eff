import type { LaunchCount, NodeRecord, Provider } from '../cloud/provider.js';
import type { IoHost } from '../io-host.js';
import type { StepReport } from '../steps.js';
import type { LaunchGroup } from './launch-plan.js';
import { problemsError } from './validate.js';

/**
 * Before anything is made: do the nodes this start launches (and the stopped ones it starts) fit
 * the account's quotas? A new account's vCPU quota is small, and EC2 would otherwise refuse part
 * of the way through the launch. Where the provider cannot tell (no permission, no such service at
 * the endpoint), the reason goes to the debug log and the start goes ahead.
 */
export async function checkQuota(
  s: {
    opts: { name: string; io: IoHost };
    provider: Provider;
    missing: readonly LaunchGroup[];
    existing: readonly NodeRecord[];
  },
  report: (r: StepReport) => void,
): Promise<void> {
  const launches: LaunchCount[] = [
    ...s.missing.map((g) => ({ instanceType: g.instanceType, count: g.aliases.length, spot: g.spotBid !== undefined })),
    ...s.existing
      .filter((n) => n.state === 'stopped')
      .map((n) => ({ instanceType: n.instanceType, count: 1, spot: n.spotRequestId !== undefined })),
  ];
  if (!s.provider.checkLaunchQuota || launches.length === 0) return;
  report({ detail: "checking the account's vCPU quota" });
  const check = await s.provider.checkLaunchQuota(launches);
  for (const message of check.notes) s.opts.io.notify({ level: 'debug', code: 'SC_START_D0001', message });
  if (check.problems.length) throw problemsError(s.opts.name, check.problems);
}
