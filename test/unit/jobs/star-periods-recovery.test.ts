import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recoveryOf, starPeriod, type StarPeriod } from '../../../jobs/star-periods.js';
import { loadS82 } from '../../../src/science/loaders/s82.js';

const S82 = join(process.cwd(), '..', 'shared', 'data', 's82-rrlyrae');

// The accuracy goal on Stripe 82 is ≥ 90% of stars within 0.01 d of Sesar et al. (2010). On all 250
// shared stars `node --import tsx bench/star-periods.ts --band g` measured 96.0% with the job's
// defaults (g band), 94.8% multiband; on this subset (the first 40 ids) the test printed 40 of 40.
// The threshold leaves room for one or two stars, no more.
describe.skipIf(!existsSync(S82))('recovery of published periods on Stripe 82', () => {
  it('finds ≥ 95% of the first 40 stars within 0.01 d with the default settings (g band)', async () => {
    const catalogue = await loadS82(S82, { limit: 40 });
    const found: StarPeriod[] = [];
    for (const star of catalogue.stars) {
      const r = await starPeriod(
        { id: star.id, bands: { g: star.bands.g! }, publishedPeriod: star.publishedPeriod! },
        { grid: 'auto', minPeriod: 0.2, maxPeriod: 1.2, nterms: 4, candidates: 8, errorFloor: 0.03 },
      );
      if (!('reason' in r)) found.push(r.result);
    }
    expect(found).toHaveLength(40);
    const recovery = recoveryOf(found)!;
    console.log(`Stripe 82 recovery on 40 stars: ${(100 * recovery).toFixed(1)}%`);
    expect(recovery).toBeGreaterThanOrEqual(0.95);
  });
});
