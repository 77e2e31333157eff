import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  analyticTemplates,
  linearEpochs,
  loadSynthetic,
  mulberry32,
  readTemplates,
  templateAt,
} from '../../../src/science/loaders/synthetic.js';

const SHARED = join(process.cwd(), '..', 'shared', 'data');
let empty: string;
beforeAll(async () => {
  empty = await mkdtemp(join(tmpdir(), 'synth-'));
});
afterAll(async () => rm(empty, { recursive: true, force: true }));

describe('synthetic LINEAR-like stars (built-in shapes and distributions)', () => {
  it('is deterministic for a seed and differs between seeds', async () => {
    const a = await loadSynthetic({ count: 3, seed: 5, dataDir: empty });
    const b = await loadSynthetic({ count: 3, seed: 5, dataDir: empty });
    const c = await loadSynthetic({ count: 3, seed: 6, dataDir: empty });
    expect(a.inputs).toEqual(['built-in analytic RR Lyrae shapes', 'built-in LINEAR-like distributions']);
    expect(a.stars.map((s) => s.publishedPeriod)).toEqual(b.stars.map((s) => s.publishedPeriod));
    expect(Array.from(a.stars[2]!.bands.L!.mag)).toEqual(Array.from(b.stars[2]!.bands.L!.mag));
    expect(a.stars[0]!.publishedPeriod).not.toBe(c.stars[0]!.publishedPeriod);
  });

  it('samples ~5 years in seasons with gaps, LINEAR-like errors, RR Lyrae periods', async () => {
    const { stars } = await loadSynthetic({ count: 20, seed: 9, dataDir: empty });
    for (const s of stars) {
      const { t, err, mag } = s.bands.L!;
      expect(t).toBeInstanceOf(Float64Array);
      expect(t.length).toBeGreaterThanOrEqual(40);
      const span = t[t.length - 1]! - t[0]!;
      expect(span).toBeGreaterThan(3.5 * 365);
      expect(span).toBeLessThan(5 * 365.25);
      let maxGap = 0;
      for (let i = 1; i < t.length; i++) maxGap = Math.max(maxGap, t[i]! - t[i - 1]!);
      expect(maxGap).toBeGreaterThan(100); // the seasonal gap
      expect(s.publishedPeriod).toBeGreaterThan(0.15);
      expect(s.publishedPeriod).toBeLessThan(1.1);
      expect(Math.min(...err)).toBeGreaterThan(0.01);
      expect(Math.max(...mag) - Math.min(...mag)).toBeGreaterThan(0.15);
      expect(s.gr).toBeDefined();
    }
  });

  it('epochs fall within ±3 h of local midnight at the site', () => {
    const t = linearEpochs(mulberry32(3), 200, 5);
    for (const x of t) {
      const frac = x - Math.floor(x);
      expect(Math.abs(frac - 0.29)).toBeLessThan(0.2);
    }
  });

  it('the analytic RRab shape rises fast and fades slowly, 0 at maximum and 1 at minimum', () => {
    const [ab] = analyticTemplates();
    expect(ab!.mag[0]).toBeCloseTo(0, 12);
    expect(Math.max(...ab!.mag)).toBeCloseTo(1, 12);
    const jmin = ab!.mag.indexOf(Math.max(...ab!.mag));
    // Minimum light late in the cycle: the rise (min → max) takes under a third of it.
    expect(jmin / ab!.mag.length).toBeGreaterThan(0.66);
    expect(templateAt(ab!, 0.999)).toBeGreaterThan(0);
    expect(templateAt(ab!, 0.5)).toBeCloseTo(ab!.mag[100]!, 12);
  });
});

describe.skipIf(!existsSync(join(SHARED, 'RRLyr_ugriz_templates.tar.gz')))(
  'synthetic stars from the shared templates and catalogue',
  () => {
    it('reads the r-band templates and draws rows of the LINEAR catalogue', async () => {
      const tpl = await readTemplates(join(SHARED, 'RRLyr_ugriz_templates.tar.gz'), 'r');
      expect(tpl.map((t) => t.id)).toContain('0');
      expect(tpl.map((t) => t.id)).toContain('100');
      expect(tpl[0]!.phase.length).toBe(500);
      const c = await loadSynthetic({ count: 10, seed: 1, dataDir: SHARED });
      expect(c.inputs[0]).toContain('RRLyr_ugriz_templates.tar.gz');
      expect(c.inputs[1]).toContain('LINEARattributesFinalApr2013');
      // Magnitudes of the catalogue's stars: LINEAR saw 14.5 < mL < 17.5.
      for (const s of c.stars) {
        const m = s.bands.L!.mag;
        const med = [...m].sort((a, b) => a - b)[m.length >> 1]!;
        expect(med).toBeGreaterThan(13);
        expect(med).toBeLessThan(18.5);
      }
    });
  },
);
