/**
 * A small built-in table of on-demand Linux prices (USD per hour, us-east-1 list prices) for the
 * `--plan` cost estimate. It is an estimate: prices differ by region and change over time, and
 * unknown types are reported as unknown rather than guessed.
 */
const ON_DEMAND_USD_PER_HOUR: Readonly<Record<string, number>> = {
  't1.micro': 0.02,
  'm1.small': 0.044,
  'm1.medium': 0.087,
  'm1.large': 0.175,
  'c1.xlarge': 0.52,
  't2.nano': 0.0058,
  't2.micro': 0.0116,
  't2.small': 0.023,
  't2.medium': 0.0464,
  't2.large': 0.0928,
  't3.nano': 0.0052,
  't3.micro': 0.0104,
  't3.small': 0.0208,
  't3.medium': 0.0416,
  't3.large': 0.0832,
  't3.xlarge': 0.1664,
  'm5.large': 0.096,
  'm5.xlarge': 0.192,
  'm5.2xlarge': 0.384,
  'm5.4xlarge': 0.768,
  'm6i.large': 0.096,
  'm6i.xlarge': 0.192,
  'm7i.large': 0.1008,
  'c5.large': 0.085,
  'c5.xlarge': 0.17,
  'c5.2xlarge': 0.34,
  'c5.4xlarge': 0.68,
  'c6i.large': 0.085,
  'c6i.xlarge': 0.17,
  'c7i.large': 0.0893,
  'r5.large': 0.126,
  'r5.xlarge': 0.252,
};

export function onDemandPrice(instanceType: string): number | undefined {
  return ON_DEMAND_USD_PER_HOUR[instanceType];
}

/** Families that cannot join a cluster placement group (burstable and previous generations). */
const NO_PLACEMENT_GROUP = /^(t1|t2|t3|t3a|t4g|m1|m2|m3|c1|c3|mac\d?)\./;

export function supportsPlacementGroup(instanceType: string): boolean {
  return !NO_PLACEMENT_GROUP.test(instanceType);
}
