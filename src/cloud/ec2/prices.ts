/**
 * On-demand Linux prices for cost estimates (`start`'s plan and question, `listclusters`' cost so far).
 *
 * This is a TABLE, not a price lookup: real EC2 prices come from the AWS Price List API, which this
 * program does not call (it needs network access and pricing:GetProducts on a us-east-1 endpoint,
 * and a cost estimate must work offline and under a least-privilege policy). The figures are AWS's
 * published us-east-1 list prices (USD/hour) for each family's `.large` size; other sizes scale
 * with the size, as EC2's prices do within a family; other regions apply that region's factor, the
 * ratio of its m5.large price to us-east-1's. So every figure is an estimate, and where the table
 * has no family or region it says "no price" (never a guess, never silence).
 */
import type { PriceQuote } from '../provider.js';

/** us-east-1 on-demand USD/hour of each family's `.large` size (Graviton families end in `g`). */
const LARGE_USD_PER_HOUR: Readonly<Record<string, number>> = {
  // burstable
  t2: 0.0928,
  t3: 0.0832,
  t3a: 0.0752,
  t4g: 0.0672, // Graviton2
  // general purpose
  m5: 0.096,
  m5a: 0.086,
  m5d: 0.113,
  m5n: 0.119,
  m6i: 0.096,
  m6id: 0.1187,
  m6a: 0.0864,
  m6g: 0.077, // Graviton2
  m6gd: 0.0904,
  m7i: 0.1008,
  'm7i-flex': 0.09576,
  m7a: 0.11592,
  m7g: 0.0816, // Graviton3
  m7gd: 0.1068,
  m8g: 0.08976, // Graviton4
  // compute optimised
  c5: 0.085,
  c5a: 0.077,
  c5d: 0.096,
  c5n: 0.108,
  c6i: 0.085,
  c6id: 0.1008,
  c6in: 0.11342,
  c6a: 0.0765,
  c6g: 0.068, // Graviton2
  c6gd: 0.0768,
  c6gn: 0.0864,
  c7i: 0.08925,
  c7a: 0.10264,
  c7g: 0.0725, // Graviton3
  c7gd: 0.0907,
  c7gn: 0.0999,
  c8g: 0.07976, // Graviton4
  // memory optimised
  r5: 0.126,
  r5a: 0.113,
  r5d: 0.144,
  r5n: 0.149,
  r6i: 0.126,
  r6id: 0.1512,
  r6a: 0.1134,
  r6g: 0.1008, // Graviton2
  r6gd: 0.1152,
  r7i: 0.1323,
  r7a: 0.1522,
  r7g: 0.1071, // Graviton3
  r7gd: 0.1361,
  r8g: 0.11782, // Graviton4
  x2gd: 0.167, // Graviton2
  // storage optimised
  i3: 0.156,
  i4i: 0.172,
  i4g: 0.1544, // Graviton2
  im4gn: 0.1819, // Graviton2
  z1d: 0.186,
};

/** Types that are not a family's `.large` times its size: previous generations, GPUs, HPC. */
const EXACT_USD_PER_HOUR: Readonly<Record<string, number>> = {
  't1.micro': 0.02,
  'm1.small': 0.044,
  'm1.medium': 0.087,
  'm1.large': 0.175,
  'm1.xlarge': 0.35,
  'm3.medium': 0.067,
  'm3.large': 0.133,
  'm3.xlarge': 0.266,
  'c1.medium': 0.13,
  'c1.xlarge': 0.52,
  'c3.large': 0.105,
  'c3.xlarge': 0.21,
  'c4.large': 0.1,
  'c4.xlarge': 0.199,
  'c4.2xlarge': 0.398,
  'm4.large': 0.1,
  'm4.xlarge': 0.2,
  'm4.2xlarge': 0.4,
  'r4.large': 0.133,
  'r4.xlarge': 0.266,
  'cc2.8xlarge': 2.0,
  'cr1.8xlarge': 3.5,
  'hpc6a.48xlarge': 2.88,
  'hpc7g.16xlarge': 1.6832, // Graviton3E
  'g4dn.xlarge': 0.526,
  'g4dn.2xlarge': 0.752,
  'g4dn.4xlarge': 1.204,
  'g4dn.12xlarge': 3.912,
  'g5.xlarge': 1.006,
  'g5.2xlarge': 1.212,
  'g5.4xlarge': 1.624,
  'g5g.xlarge': 0.42, // Graviton2 + T4G
  'g6.xlarge': 0.8048,
  'p3.2xlarge': 3.06,
  'p3.8xlarge': 12.24,
  'p4d.24xlarge': 32.7726,
};

/** Size → multiple of `.large` (EC2 prices a family's sizes by their vCPUs). */
const SIZE_FACTOR: Readonly<Record<string, number>> = {
  nano: 1 / 16,
  micro: 1 / 8,
  small: 1 / 4,
  medium: 1 / 2,
  large: 1,
  xlarge: 2,
  '2xlarge': 4,
  '3xlarge': 6,
  '4xlarge': 8,
  '6xlarge': 12,
  '8xlarge': 16,
  '9xlarge': 18,
  '12xlarge': 24,
  '16xlarge': 32,
  '18xlarge': 36,
  '24xlarge': 48,
  '32xlarge': 64,
  '48xlarge': 96,
};

/** A region's prices over us-east-1's: its m5.large list price / 0.096 (rounded to 3 places). */
const REGION_FACTOR: Readonly<Record<string, number>> = {
  'us-east-1': 1,
  'us-east-2': 1,
  'us-west-2': 1,
  'us-west-1': 1.167,
  'ca-central-1': 1.115,
  'eu-west-1': 1.115,
  'eu-west-2': 1.156,
  'eu-west-3': 1.167,
  'eu-central-1': 1.198,
  'eu-north-1': 1.063,
  'eu-south-1': 1.167,
  'ap-south-1': 1.052,
  'ap-southeast-1': 1.25,
  'ap-southeast-2': 1.25,
  'ap-northeast-1': 1.292,
  'ap-northeast-2': 1.229,
  'ap-northeast-3': 1.292,
  'sa-east-1': 1.594,
};

/** The on-demand estimate for a type in a region (default us-east-1), or why the table has none. */
export function priceQuote(instanceType: string, region = 'us-east-1'): PriceQuote {
  const factor = REGION_FACTOR[region];
  if (factor === undefined) return { noPrice: `no price for region ${region} in the built-in table` };
  const base = EXACT_USD_PER_HOUR[instanceType] ?? familyPrice(instanceType);
  if (base === undefined) return { noPrice: `no price for ${instanceType} in the built-in table` };
  return { usdPerHour: Math.round(base * factor * 1e6) / 1e6 };
}

/** The on-demand estimate (USD/hour), or undefined where the table has no price. */
export function onDemandPrice(instanceType: string, region?: string): number | undefined {
  return priceQuote(instanceType, region).usdPerHour;
}

function familyPrice(instanceType: string): number | undefined {
  const dot = instanceType.indexOf('.');
  if (dot < 0) return undefined;
  const large = LARGE_USD_PER_HOUR[instanceType.slice(0, dot)];
  const factor = SIZE_FACTOR[instanceType.slice(dot + 1)];
  return large === undefined || factor === undefined ? undefined : large * factor;
}

/** Families that cannot join a cluster placement group (burstable and previous generations). */
const NO_PLACEMENT_GROUP = /^(t1|t2|t3|t3a|t4g|m1|m2|m3|c1|c3|mac\d?)\./;

export function supportsPlacementGroup(instanceType: string): boolean {
  return !NO_PLACEMENT_GROUP.test(instanceType);
}
