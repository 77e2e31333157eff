import type { Instance } from '@aws-sdk/client-ec2';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { registerSecret } from '../../secrets.js';
import type { LaunchCount, LaunchProblem, QuotaCheck } from '../provider.js';
import type { Ec2Api } from './api.js';
import { requestHandlerFor } from './http.js';
import type { Ec2ClientSettings } from './settings.js';

/**
 * The account's vCPU quotas, checked before a launch (a new account runs 5–32 vCPUs of standard
 * instances; EC2 otherwise refuses with VcpuLimitExceeded after part of the cluster has launched).
 * Quotas count the vCPUs of running instances by class; starcluster checks the two it launches:
 * on-demand and spot instances of the standard families (A, C, D, H, I, M, R, T, Z). Other classes
 * (G, P, X, Inf, …) have quotas of their own that this check leaves to EC2.
 *
 * The check is a courtesy: when Service Quotas cannot answer (no servicequotas:GetServiceQuota in
 * the policy, an endpoint without the service such as LocalStack, no network), the launch goes
 * ahead and the reason is returned as a note for the debug log.
 */
export const ON_DEMAND_STANDARD_QUOTA = 'L-1216C47A';
export const SPOT_STANDARD_QUOTA = 'L-34B43A08';

const QUOTA_NAMES = {
  [ON_DEMAND_STANDARD_QUOTA]: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances',
  [SPOT_STANDARD_QUOTA]: 'All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests',
} as const;
type QuotaCode = keyof typeof QUOTA_NAMES;

/** A type of the standard class (m5.large, c7g.xlarge, t4g.micro, im4gn.large), not G/P/X/Inf/DL/Trn/HPC/mac/F/VT/u-. */
export function isStandardFamily(instanceType: string): boolean {
  return /^[acdhimrtz]/.test(instanceType) && !/^(inf|dl|trn|hpc|mac|u-)/.test(instanceType);
}

/** Reads one EC2 quota's value (vCPUs); throws when Service Quotas cannot answer. */
export interface QuotaReader {
  vcpuQuota(code: string): Promise<number | undefined>;
}

/** Service Quotas over @aws-sdk/client-service-quotas, loaded on first use (as SSM is). */
export class ServiceQuotas implements QuotaReader {
  private client: Promise<ServiceQuotasClient> | undefined;

  constructor(private readonly settings: Ec2ClientSettings) {}

  async vcpuQuota(code: string): Promise<number | undefined> {
    const { GetServiceQuotaCommand } = await import('@aws-sdk/client-service-quotas');
    this.client ??= this.open();
    const out = await (await this.client).send(new GetServiceQuotaCommand({ ServiceCode: 'ec2', QuotaCode: code }));
    return out.Quota?.Value;
  }

  private async open(): Promise<ServiceQuotasClient> {
    const { ServiceQuotasClient } = await import('@aws-sdk/client-service-quotas');
    const s = this.settings;
    registerSecret(s.credentials?.secretAccessKey);
    return new ServiceQuotasClient({
      region: s.region,
      ...(s.quotasEndpoint ? { endpoint: s.quotasEndpoint } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      // One try: the answer only decides whether to warn early; EC2 still checks at launch.
      maxAttempts: 1,
      requestHandler: requestHandlerFor(s),
    });
  }
}

/** The vCPUs of each type (DescribeInstanceTypes' DefaultVCpus). */
async function vcpusOf(api: Ec2Api, types: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (types.length === 0) return out;
  for (const info of await api.describeInstanceTypes([...new Set(types)]))
    if (info.InstanceType && info.VCpuInfo?.DefaultVCpus) out.set(info.InstanceType, info.VCpuInfo.DefaultVCpus);
  return out;
}

function instanceVcpus(i: Instance, byType: Map<string, number>): number {
  const cpu = i.CpuOptions;
  if (cpu?.CoreCount && cpu.ThreadsPerCore) return cpu.CoreCount * cpu.ThreadsPerCore;
  return byType.get(i.InstanceType ?? '') ?? 0;
}

/**
 * Checks that the standard-class vCPUs in use plus those of the launches fit the account's
 * on-demand and spot quotas in the region. Problems name the quota, the figures and what to do.
 */
export async function checkVcpuQuota(
  api: Ec2Api,
  quotas: QuotaReader,
  launches: readonly LaunchCount[],
): Promise<QuotaCheck> {
  const wanted = launches.filter((l) => l.count > 0 && isStandardFamily(l.instanceType));
  if (wanted.length === 0) return { problems: [], notes: [] };
  const markets: { code: QuotaCode; spot: boolean }[] = [
    { code: ON_DEMAND_STANDARD_QUOTA, spot: false },
    { code: SPOT_STANDARD_QUOTA, spot: true },
  ];
  const limits = new Map<QuotaCode, number>();
  for (const m of markets) {
    if (!wanted.some((l) => l.spot === m.spot)) continue;
    try {
      const value = await quotas.vcpuQuota(m.code);
      if (value !== undefined) limits.set(m.code, value);
    } catch (error) {
      const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return {
        problems: [],
        notes: [`vCPU quota not checked (Service Quotas GetServiceQuota ${m.code} failed: ${why.slice(0, 300)})`],
      };
    }
  }
  const running = (
    await api.describeInstances([{ Name: 'instance-state-name', Values: ['pending', 'running'] }])
  ).filter((i) => isStandardFamily(i.InstanceType ?? ''));
  const vcpus = await vcpusOf(api, [...wanted.map((l) => l.instanceType), ...running.map((i) => i.InstanceType ?? '')]);
  const problems: LaunchProblem[] = [];
  const notes: string[] = [];
  for (const m of markets) {
    const limit = limits.get(m.code);
    const mine = wanted.filter((l) => l.spot === m.spot);
    if (limit === undefined || mine.length === 0) continue;
    const used = running
      .filter((i) => (i.InstanceLifecycle === 'spot') === m.spot)
      .reduce((n, i) => n + instanceVcpus(i, vcpus), 0);
    const need = mine.reduce((n, l) => n + l.count * (vcpus.get(l.instanceType) ?? 0), 0);
    const what = mine.map((l) => `${l.count} × ${l.instanceType}`).join(', ');
    notes.push(`vCPU quota ${m.code}: ${limit} vCPUs, ${used} in use, ${need} wanted (${what})`);
    if (used + need > limit)
      problems.push({
        kind: 'cloud',
        code: 'VcpuQuotaExceeded',
        message:
          `the account's vCPU quota "${QUOTA_NAMES[m.code]}" (${m.code}) in ${api.region} is ${limit} vCPUs; ` +
          `${used} are in use and this launch needs ${need} more (${what}). Ask for more in the Service Quotas ` +
          'console (EC2 → that quota → Request increase), or start fewer or smaller nodes (-s, -i, -I)',
      });
  }
  return { problems, notes };
}
