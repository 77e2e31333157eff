import type { Provider, SpotPricePoint } from '../cloud/provider.js';

/**
 * What nodes cost: on-demand nodes at the provider's estimate (EC2: a built-in table), spot nodes
 * at the spot price where they run (EC2: DescribeSpotPriceHistory), capped by their bid; where the
 * provider has no spot price, the bid (what a spot node costs at most), else the on-demand price
 * (EC2's default maximum for spot). Every figure is an estimate, and the text says how it was made.
 */

/** A node to price: its type and, for a spot node, where it runs (or will) and its bid. */
export interface PricedNode {
  instanceType: string;
  spot?: { zone?: string; bid?: number };
}

/** What a set of instances costs per hour by the provider's price estimate, and what it could not price. */
export interface CostEstimate {
  /** USD/hour of the priced instances (4 decimals). */
  hourlyCostUsd: number;
  /** Distinct types without a price (not counted). */
  unpricedTypes: string[];
  /** Why each has none, as the provider says it. */
  noPrice: string[];
  /** How the spot nodes were priced (`2 × c5.large spot at $0.0340/hour each: …`); absent without spot nodes. */
  spotBasis?: string[];
}

type Pricing = Pick<Provider, 'priceQuote' | 'spotPriceHistory'>;

/** One node's hourly price and, for a spot node, how it was found; undefined usd: no price. */
interface NodePrice {
  usd?: number;
  noPrice?: string;
  basis?: string;
  /** The spot price history the hourly price came from (for the cost so far). */
  points?: SpotPricePoint[];
}

/** Spot price history per type, zone and start, asked once per estimate. */
class SpotHistories {
  private readonly asked = new Map<string, Promise<SpotPricePoint[] | string>>();
  constructor(private readonly provider: Pricing) {}

  get(instanceType: string, since: Date, zone?: string): Promise<SpotPricePoint[] | string> {
    const key = `${instanceType}|${zone ?? ''}|${since.getTime()}`;
    let answer = this.asked.get(key);
    if (!answer) {
      const history = this.provider.spotPriceHistory;
      answer = history
        ? history.call(this.provider, instanceType, { since, ...(zone ? { zone } : {}) }).catch((error: unknown) => {
            // Pricing is a courtesy: no permission or no such call falls back to the bid or on-demand.
            const why = error instanceof Error ? error.message : String(error);
            return `spot price history unavailable: ${why.slice(0, 200)}`;
          })
        : Promise.resolve('no spot price history');
      this.asked.set(key, answer);
    }
    return answer;
  }
}

/** The price in effect now: in the zone, else the highest of the zones (EC2 may place the node in any). */
export function latestSpotPrice(
  points: readonly SpotPricePoint[],
  zone?: string,
): { usd: number; zone: string } | undefined {
  const latest = new Map<string, SpotPricePoint>();
  for (const p of points) {
    if (zone && p.zone !== zone) continue;
    const seen = latest.get(p.zone);
    if (!seen || p.time.getTime() >= seen.time.getTime()) latest.set(p.zone, p);
  }
  let best: SpotPricePoint | undefined;
  for (const p of latest.values()) if (!best || p.usdPerHour > best.usdPerHour) best = p;
  return best ? { usd: best.usdPerHour, zone: best.zone } : undefined;
}

/**
 * USD spent by a node in one zone from `from` to `to` at the spot prices in effect (a price holds
 * until the next point; before the first point, the first point's price).
 */
export function spotSpend(points: readonly SpotPricePoint[], zone: string, from: Date, to: Date): number {
  const mine = points.filter((p) => p.zone === zone).sort((a, b) => a.time.getTime() - b.time.getTime());
  if (mine.length === 0 || to <= from) return 0;
  let usd = 0;
  for (let i = 0; i < mine.length; i++) {
    const start = i === 0 ? from.getTime() : Math.max(from.getTime(), (mine[i] as SpotPricePoint).time.getTime());
    const next = mine[i + 1];
    const end = Math.min(to.getTime(), next ? next.time.getTime() : to.getTime());
    if (end > start) usd += ((mine[i] as SpotPricePoint).usdPerHour * (end - start)) / 3600_000;
  }
  return usd;
}

async function priceOf(
  provider: Pricing,
  histories: SpotHistories,
  node: PricedNode,
  since: Date,
): Promise<NodePrice | undefined> {
  const quote = provider.priceQuote?.(node.instanceType);
  if (!quote) return undefined;
  const onDemand: NodePrice = quote.usdPerHour === undefined ? { noPrice: quote.noPrice } : { usd: quote.usdPerHour };
  if (!node.spot) return onDemand;
  const { zone, bid } = node.spot;
  const history = await histories.get(node.instanceType, since, zone);
  const latest = typeof history === 'string' ? undefined : latestSpotPrice(history, zone);
  if (latest) {
    const capped = bid !== undefined && bid < latest.usd;
    const where = zone ? `in ${zone}` : `in ${latest.zone}, the highest of the region's zones`;
    return {
      usd: capped ? bid : latest.usd,
      basis: capped
        ? `at the bid $${bid}/hour, under the latest spot price ${where} (DescribeSpotPriceHistory)`
        : `at the latest spot price ${where} (DescribeSpotPriceHistory)`,
      ...(typeof history === 'string' ? {} : { points: history }),
    };
  }
  const why =
    typeof history === 'string'
      ? history
      : `no spot price history for ${node.instanceType}${zone ? ` in ${zone}` : ''}`;
  if (bid !== undefined) return { usd: bid, basis: `at most the bid $${bid}/hour (${why})` };
  return { ...onDemand, basis: `at most the on-demand price (${why})` };
}

function summarise(nodes: readonly PricedNode[], prices: readonly (NodePrice | undefined)[]): CostEstimate {
  let hourly = 0;
  const unpriced = new Set<string>();
  const noPrice = new Set<string>();
  const basis = new Map<string, number>();
  nodes.forEach((node, i) => {
    const p = prices[i];
    if (!p) return;
    if (p.usd === undefined) {
      unpriced.add(node.instanceType);
      if (p.noPrice) noPrice.add(p.noPrice);
    } else hourly += p.usd;
    if (p.basis) {
      const key = `${node.instanceType} spot${p.usd !== undefined ? ` $${p.usd.toFixed(4)}/hour` : ''} ${p.basis}`;
      basis.set(key, (basis.get(key) ?? 0) + 1);
    }
  });
  return {
    hourlyCostUsd: Math.round(hourly * 10000) / 10000,
    unpricedTypes: [...unpriced],
    noPrice: [...noPrice],
    ...(basis.size ? { spotBasis: [...basis].map(([text, n]) => `${n} × ${text}`) } : {}),
  };
}

/** Prices each node with the provider's estimates; a provider without prices (local processes): free. */
export async function estimateCost(
  provider: Pricing,
  nodes: readonly PricedNode[],
  now: Date = new Date(),
): Promise<CostEstimate> {
  const histories = new SpotHistories(provider);
  const prices = await Promise.all(nodes.map((n) => priceOf(provider, histories, n, now)));
  return summarise(nodes, prices);
}

/** Nodes of one type on-demand (the common case): `onDemand('m5.large', 'm5.large')`. */
export function onDemand(...types: string[]): PricedNode[] {
  return types.map((instanceType) => ({ instanceType }));
}

function basisText(c: CostEstimate, where = ''): string {
  const none = c.noPrice.length ? `; ${c.noPrice.join('; ')}` : '';
  if (!c.spotBasis) return `on-demand (estimate from a built-in price table${where}${none})`;
  return `(estimate: on-demand nodes from a built-in price table${where}; spot: ${c.spotBasis.join('; ')}${none})`;
}

/** `$0.2880/hour on-demand (estimate from a built-in price table)`, or what has no price. */
export function costText(c: CostEstimate & { region?: string }): string {
  if (c.unpricedTypes.length && c.hourlyCostUsd === 0) return `no price (${c.noPrice.join('; ')})`;
  return `$${c.hourlyCostUsd.toFixed(4)}/hour ${basisText(c, c.region ? ` for ${c.region}` : '')}`;
}

/** A cluster's spend so far: each running node's hourly price × its time since launch (spot: as prices moved). */
export interface CostSoFar extends CostEstimate {
  /** USD spent so far by the running nodes (4 decimals); an estimate. */
  costSoFarUsd: number;
}

/** A running node as listings have it. */
export interface RunningNode {
  state: string;
  instanceType: string;
  uptimeSeconds?: number;
  zone?: string;
  spotRequestId?: string;
}

export async function costSoFar(
  provider: Pricing,
  nodes: readonly RunningNode[],
  now: Date = new Date(),
): Promise<CostSoFar | undefined> {
  if (!provider.priceQuote) return undefined;
  const running = nodes.filter((n) => n.state === 'running');
  const priced: PricedNode[] = running.map((n) => ({
    instanceType: n.instanceType,
    ...(n.spotRequestId ? { spot: n.zone ? { zone: n.zone } : {} } : {}),
  }));
  const histories = new SpotHistories(provider);
  let spent = 0;
  const prices = await Promise.all(
    running.map(async (n, i) => {
      const node = priced[i] as PricedNode;
      if (n.uptimeSeconds === undefined) return priceOf(provider, histories, node, now);
      const launched = new Date(now.getTime() - n.uptimeSeconds * 1000);
      // A spot node's history since its launch: what it paid as the price moved.
      const p = await priceOf(provider, histories, node, node.spot ? launched : now);
      if (p?.points && n.zone) spent += spotSpend(p.points, n.zone, launched, now);
      else if (p?.usd !== undefined) spent += (p.usd * n.uptimeSeconds) / 3600;
      return p;
    }),
  );
  return { ...summarise(priced, prices), costSoFarUsd: Math.round(spent * 10000) / 10000 };
}

/** `$0.0312 so far, $0.0208/hour now (on-demand estimate from a built-in price table)`. */
export function costSoFarText(c: CostSoFar): string {
  if (c.unpricedTypes.length && c.hourlyCostUsd === 0) return `no price (${c.noPrice.join('; ')})`;
  const how = c.spotBasis ? basisText(c) : basisText(c).replace(/^on-demand \(estimate/, '(on-demand estimate');
  return `$${c.costSoFarUsd.toFixed(4)} so far, $${c.hourlyCostUsd.toFixed(4)}/hour now ${how}`;
}
