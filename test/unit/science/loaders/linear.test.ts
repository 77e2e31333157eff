import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFormat, loadCatalogue } from '../../../../src/science/loaders/index.js';
import { loadLinear, readLinearTargets } from '../../../../src/science/loaders/linear.js';

const FIXTURE = join(process.cwd(), 'test', '_fixtures', 'lightcurves', 'linear');
const SHARED = join(process.cwd(), '..', 'shared', 'data', 'linear');

describe('loadLinear', () => {
  it('reads the tar of <id>.dat light curves with g-r and periods from the targets table', async () => {
    const c = await loadLinear(FIXTURE);
    expect(c.format).toBe('linear');
    expect(c.stars.map((s) => s.id)).toEqual(['10003298', '10004892']);
    const s = c.stars[0]!;
    expect(s.gr).toBe(0.21);
    expect(s.publishedPeriod).toBeCloseTo(10 ** -0.2044, 12);
    expect(s.bands.L!.t).toBeInstanceOf(Float64Array);
    expect(s.bands.L!.t.length).toBe(60);
    expect(c.skipped).toEqual([
      {
        id: '10013411',
        file: `${join(FIXTURE, 'allLINEARfinal_dat.tar.gz')}:10013411.dat`,
        line: 3,
        reason: 'expected 3 columns (t mag mag_err), found 2',
      },
    ]);
  });

  it('says what is missing when the folder has only the catalogue tables', async () => {
    await expect(loadLinear(SHARED)).rejects.toMatchObject({ code: 'DataNotFound' });
    const err: unknown = await loadLinear(SHARED).catch((e: unknown) => e);
    expect((err as { hint: string }).hint).toContain('allLINEARfinal_dat.tar.gz');
  });

  it('is detected from its folder', async () => {
    expect(await detectFormat(FIXTURE)).toBe('linear');
    const c = await loadCatalogue({ data: FIXTURE, limit: 1 });
    expect(c.stars).toHaveLength(1);
  });
});

describe.skipIf(!existsSync(SHARED))('LINEAR targets table (shared data)', () => {
  it('parses the 7010 targets with their g-r colours', async () => {
    const t = await readLinearTargets(join(SHARED, 'allLINEARfinal_targets.dat.gz'));
    expect(t.size).toBe(7010);
    expect(t.get('17249')).toEqual({ gr: 0.67, period: 10 ** -0.6 });
  });
});
