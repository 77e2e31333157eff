import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../../src/errors.js';
import { loadCatalogue, detectFormat } from '../../../../src/science/loaders/index.js';
import { loadS82, parseS82Star } from '../../../../src/science/loaders/s82.js';

const SHARED = join(process.cwd(), '..', 'shared', 'data', 's82-rrlyrae');

/** One table1 line: ra dec then (mjd mag err) for u g r i z. */
function line(t: number, mags: number[], errs: number[]): string {
  const cols = ['10.0', '-1.0'];
  mags.forEach((m, b) => cols.push((t + b * 0.001).toFixed(5), m.toFixed(3), errs[b]!.toFixed(3)));
  return cols.join(' ') + '\n';
}

const GOOD =
  line(52000.1, [19.1, 18.0, 17.8, 17.7, 17.6], [0.03, 0.01, 0.01, 0.01, 0.02]) +
  // u missing (-99.99), z error 0: both dropped, the other bands kept.
  line(52001.2, [-99.99, 18.1, 17.9, 17.8, 17.7], [0.03, 0.01, 0.01, 0.01, 0]) +
  line(51999.3, [19.3, 18.2, 18.0, 17.9, 17.8], [0.03, 0.01, 0.01, 0.01, 0.02]);
const BAD = GOOD + '10.0 -1.0 52002.0 19.0 0.03\n' + GOOD;

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (d: unknown) => {
    chunks.push(d as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name: 'table1/', type: 'directory' });
  for (const [name, text] of Object.entries(files)) pack.entry({ name: `table1/${name}`, type: 'file' }, text);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 's82-'));
  // folder layout with table1/ only (no table2/table3)
  await mkdir(join(dir, 'folder', 'table1'), { recursive: true });
  await writeFile(join(dir, 'folder', 'table1', '12.dat'), GOOD);
  await writeFile(join(dir, 'folder', 'table1', '7.dat'), BAD);
  // archive layout with both tables
  await mkdir(join(dir, 'archive'));
  await writeFile(join(dir, 'archive', 'table1.tar.gz'), await tarGz({ '12.dat': GOOD, '7.dat': BAD }));
  await writeFile(join(dir, 'archive', 'table2.dat.gz'), gzipSync('#id type P uA\n12 ab 0.55 1.0\n7 c 0.31 0.5\n'));
  await writeFile(join(dir, 'archive', 'table3.dat'), '#id ra dec grmin grminErr\n12 10.0 -1.0 0.25 0.01\n');
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('parseS82Star', () => {
  it('drops -99.99 magnitudes and non-positive errors per band, and sorts by time', () => {
    const s = parseS82Star('12', 'x/12.dat', GOOD);
    if ('reason' in s) throw new Error(s.reason);
    expect(s.bands.u!.t.length).toBe(2);
    expect(s.bands.g!.t.length).toBe(3);
    expect(s.bands.z!.t.length).toBe(2);
    expect(s.bands.g!.t).toBeInstanceOf(Float64Array);
    expect(Array.from(s.bands.g!.t)).toEqual([...s.bands.g!.t].sort((a, b) => a - b));
    expect(s.bands.g!.mag[0]).toBeCloseTo(18.2, 6);
    expect(s.ra).toBe(10);
  });

  it('reports a malformed line with its file and line number', () => {
    const s = parseS82Star('7', 'x/7.dat', BAD);
    expect(s).toEqual({ id: '7', file: 'x/7.dat', line: 4, reason: 'expected 17 columns, found 5' });
  });

  it('skips a star with no valid point in any band', () => {
    const s = parseS82Star('3', 'x/3.dat', line(52000, [-99.99, -99.99, -99.99, -99.99, -99.99], [0, 0, 0, 0, 0]));
    expect(s).toMatchObject({ id: '3', reason: 'no valid measurements in any band' });
  });
});

describe('loadS82', () => {
  it('reads a table1/ folder alone: good stars kept, the bad one reported, no published periods', async () => {
    const c = await loadS82(join(dir, 'folder'));
    expect(c.stars.map((s) => s.id)).toEqual(['12']);
    expect(c.stars[0]!.publishedPeriod).toBeUndefined();
    expect(c.skipped).toEqual([
      { id: '7', file: join(dir, 'folder', 'table1', '7.dat'), line: 4, reason: 'expected 17 columns, found 5' },
    ]);
  });

  it('reads the folder of star files itself', async () => {
    const c = await loadS82(join(dir, 'folder', 'table1'));
    expect(c.stars.map((s) => s.id)).toEqual(['12']);
  });

  it('streams table1.tar.gz and joins table2 (gzip) and table3 (plain)', async () => {
    const c = await loadS82(join(dir, 'archive'));
    expect(c.stars).toHaveLength(1);
    expect(c.stars[0]).toMatchObject({ id: '12', publishedPeriod: 0.55, type: 'ab', gr: 0.25 });
    expect(c.skipped[0]).toMatchObject({
      id: '7',
      file: `${join(dir, 'archive', 'table1.tar.gz')}:table1/7.dat`,
      line: 4,
    });
    const direct = await loadS82(join(dir, 'archive', 'table1.tar.gz'));
    expect(direct.stars[0]!.publishedPeriod).toBe(0.55);
  });

  it('names the missing path, and the file and line of a bad table', async () => {
    await expect(loadS82(join(dir, 'nope'))).rejects.toMatchObject({ code: 'DataNotFound' });
    await mkdir(join(dir, 'badtable'));
    await writeFile(join(dir, 'badtable', 'table1.tar.gz'), await tarGz({ '12.dat': GOOD }));
    await writeFile(join(dir, 'badtable', 'table2.dat'), '#id type P\n12 ab 0.5\n13 ab\n');
    const err = await loadS82(join(dir, 'badtable')).catch((e: unknown) => e);
    expect(StarclusterError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: 'DataFileInvalid' });
    expect((err as Error).message).toBe(`${join(dir, 'badtable', 'table2.dat')}:3: expected 3 columns, found 2`);
  });

  it('rejects a corrupt archive naming it', async () => {
    await mkdir(join(dir, 'corrupt'));
    await writeFile(join(dir, 'corrupt', 'table1.tar.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]));
    const err = await loadS82(join(dir, 'corrupt')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DataFileInvalid' });
    expect((err as Error).message).toContain(join(dir, 'corrupt', 'table1.tar.gz'));
  });

  it('detects the format from the folder', async () => {
    expect(await detectFormat(join(dir, 'archive'))).toBe('s82');
    const c = await loadCatalogue({ data: join(dir, 'archive') });
    expect(c.format).toBe('s82');
  });
});

describe.skipIf(!existsSync(SHARED))('loadS82 on the shared Stripe 82 subset', () => {
  it('loads all 250 stars with periods, types and colours', async () => {
    const c = await loadS82(SHARED);
    expect(c.stars).toHaveLength(250);
    expect(c.skipped).toEqual([]);
    const s = c.stars.find((x) => x.id === '13350')!;
    expect(s).toMatchObject({ publishedPeriod: 0.547987422171, type: 'ab', gr: 0.256 });
    expect(Object.keys(s.bands).sort()).toEqual(['g', 'i', 'r', 'u', 'z']);
    expect(s.bands.g!.t.length).toBe(58);
    for (const star of c.stars) {
      for (const b of Object.values(star.bands)) {
        expect(b!.err.every((e) => e > 0)).toBe(true);
        expect(b!.mag.every((m) => m > 0)).toBe(true);
      }
    }
    const limited = await loadS82(SHARED, { limit: 5 });
    expect(limited.stars.map((x) => x.id)).toEqual(c.stars.slice(0, 5).map((x) => x.id));
  });
});
