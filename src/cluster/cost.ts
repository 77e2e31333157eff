import type { Provider } from '../cloud/provider.js';

/** What a set of instances costs per hour by the provider's price estimate, and what it could not price. */
export interface CostEstimate {
  /** USD/hour of the priced instances (4 decimals). */
  hourlyCostUsd: number;
  /** Distinct types without a price (not counted). */
  unpricedTypes: string[];
  /** Why each has none, as the provider says it. */
  noPrice: string[];
}

/** Prices each instance type (one entry per instance) with the provider's estimate; no estimate: free. */
export function estimateCost(provider: Pick<Provider, 'priceQuote'>, types: readonly string[]): CostEstimate {
  let hourly = 0;
  const unpriced = new Set<string>();
  const noPrice = new Set<string>();
  for (const t of types) {
    const quote = provider.priceQuote?.(t);
    if (!quote) continue;
    if (quote.usdPerHour === undefined) {
      unpriced.add(t);
      noPrice.add(quote.noPrice);
    } else hourly += quote.usdPerHour;
  }
  return { hourlyCostUsd: Math.round(hourly * 10000) / 10000, unpricedTypes: [...unpriced], noPrice: [...noPrice] };
}

/** `$0.2880/hour on-demand (estimate from a built-in price table)`, or what has no price. */
export function costText(c: CostEstimate & { region?: string }): string {
  const where = c.region ? ` for ${c.region}` : '';
  const none = c.noPrice.length ? `; ${c.noPrice.join('; ')}` : '';
  if (c.unpricedTypes.length && c.hourlyCostUsd === 0) return `no price (${c.noPrice.join('; ')})`;
  return `$${c.hourlyCostUsd.toFixed(4)}/hour on-demand (estimate from a built-in price table${where}${none})`;
}

/** A cluster's spend so far: each running node's hourly estimate × its time since launch. */
export interface CostSoFar extends CostEstimate {
  /** USD spent so far by the running nodes (4 decimals); an on-demand estimate (spot nodes cost less). */
  costSoFarUsd: number;
}

export function costSoFar(
  provider: Pick<Provider, 'priceQuote'>,
  nodes: readonly { state: string; instanceType: string; uptimeSeconds?: number }[],
): CostSoFar | undefined {
  if (!provider.priceQuote) return undefined;
  const running = nodes.filter((n) => n.state === 'running');
  const hourly = estimateCost(
    provider,
    running.map((n) => n.instanceType),
  );
  let spent = 0;
  for (const n of running) {
    const usd = provider.priceQuote(n.instanceType).usdPerHour;
    if (usd !== undefined && n.uptimeSeconds !== undefined) spent += (usd * n.uptimeSeconds) / 3600;
  }
  return { ...hourly, costSoFarUsd: Math.round(spent * 10000) / 10000 };
}

/** `$0.0312 so far, $0.0208/hour now (on-demand estimate from a built-in price table)`. */
export function costSoFarText(c: CostSoFar): string {
  if (c.unpricedTypes.length && c.hourlyCostUsd === 0) return `no price (${c.noPrice.join('; ')})`;
  const none = c.noPrice.length ? `; ${c.noPrice.join('; ')}` : '';
  return `$${c.costSoFarUsd.toFixed(4)} so far, $${c.hourlyCostUsd.toFixed(4)}/hour now (on-demand estimate from a built-in price table${none})`;
}
