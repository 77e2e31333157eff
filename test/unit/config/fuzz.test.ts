import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { awsClientSettings, describeTemplate, getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import { ConfigError, StarclusterError } from '../../../src/errors.js';
import { mulberry32 } from '../../../src/science/loaders/synthetic.js';
import { cleanEnv, fixture } from './_helpers.js';

/** mulberry32: a small seeded generator, so every failure can be replayed from its seed. */
const random = mulberry32;

const WRONG_VALUES = [
  'two',
  '-5',
  '0',
  'maybe',
  '',
  '10.0.0.0/99',
  'ami',
  '/',
  'x,,y',
  '1e999',
  'True',
  'root',
  ' ; #',
  'vol-',
  '-1',
];
const CLUSTERS = ['local', 'base', 'vpc', 'spot', 'nosuch'];

type Mutation = (lines: string[], rnd: () => number) => string[];

const pick = <T>(items: readonly T[], rnd: () => number): T => items[Math.floor(rnd() * items.length)] as T;
const indexOf = (lines: string[], rnd: () => number): number => Math.floor(rnd() * lines.length);
const keyLines = (lines: string[]): number[] => lines.flatMap((line, i) => (/^[A-Za-z_]+\s*=/.test(line) ? [i] : []));

const MUTATIONS: Record<string, Mutation> = {
  deleteLine: (lines, rnd) => lines.filter((_, i) => i !== indexOf(lines, rnd)),
  duplicateLine: (lines, rnd) => {
    const i = indexOf(lines, rnd);
    const out = [...lines];
    out.splice(indexOf(lines, rnd), 0, lines[i] ?? '');
    return out;
  },
  misspellKey: (lines, rnd) => {
    const candidates = keyLines(lines);
    if (!candidates.length) return lines;
    const i = pick(candidates, rnd);
    const line = lines[i] ?? '';
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    const at = Math.floor(rnd() * key.length);
    const typo =
      rnd() < 0.5
        ? key.slice(0, at) + key.slice(at + 1)
        : key.slice(0, at) + pick(['X', '_', 'e', 'Q'], rnd) + key.slice(at);
    const out = [...lines];
    out[i] = `${typo} ${line.slice(eq)}`;
    return out;
  },
  wrongType: (lines, rnd) => {
    const candidates = keyLines(lines);
    if (!candidates.length) return lines;
    const i = pick(candidates, rnd);
    const line = lines[i] ?? '';
    const out = [...lines];
    out[i] = `${line.slice(0, line.indexOf('=') + 1)} ${pick(WRONG_VALUES, rnd)}`;
    return out;
  },
  extendsCycle: (lines, rnd) => {
    const headers = lines.flatMap((line, i) => (line.startsWith('[cluster ') ? [i] : []));
    if (!headers.length) return lines;
    const out = [...lines];
    out.splice(pick(headers, rnd) + 1, 0, `EXTENDS = ${pick(CLUSTERS, rnd)}`);
    return out;
  },
  junkBytes: (lines, rnd) => {
    const junk = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () =>
      String.fromCharCode(
        pick([0, 1, 9, 13, 27, 35, 59, 61, 91, 93, 0xff, 0xfe, 0x80], rnd) || Math.floor(rnd() * 256),
      ),
    ).join('');
    const out = [...lines];
    const i = indexOf(lines, rnd);
    const line = out[i] ?? '';
    const at = Math.floor(rnd() * (line.length + 1));
    out[i] = rnd() < 0.5 ? line.slice(0, at) + junk + line.slice(at) : junk;
    return out;
  },
  swapLines: (lines, rnd) => {
    const out = [...lines];
    const a = indexOf(lines, rnd);
    const b = indexOf(lines, rnd);
    [out[a], out[b]] = [out[b] ?? '', out[a] ?? ''];
    return out;
  },
  renameSection: (lines, rnd) => {
    const headers = lines.flatMap((line, i) => (line.startsWith('[') ? [i] : []));
    if (!headers.length) return lines;
    const i = pick(headers, rnd);
    const out = [...lines];
    out[i] = pick(
      ['[clustr base]', '[cluster]', '[volume data', '[plugin notebook]', '[permission http]', '[aws]', '[vol data]'],
      rnd,
    );
    return out;
  },
};

const ITERATIONS = 1000;
const DETAIL = /^.+:\d+: /;

describe('config fuzz', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-config-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${ITERATIONS} seeded mutations of a valid config either load or fail with located ConfigError lines`, async () => {
    const base = readFileSync(fixture('full.ini'), 'utf8').split('\n');
    const names = Object.keys(MUTATIONS);
    const outcomes = { valid: 0, invalid: 0 };
    const used = new Set<string>();
    for (let seed = 1; seed <= ITERATIONS; seed += 1) {
      const rnd = random(seed);
      let lines = base;
      const applied: string[] = [];
      const count = 1 + Math.floor(rnd() * 3);
      for (let m = 0; m < count; m += 1) {
        const name = pick(names, rnd);
        applied.push(name);
        used.add(name);
        lines = (MUTATIONS[name] as Mutation)(lines, rnd);
      }
      const path = join(dir, `config-${seed % 7}`);
      // latin1: junk code points become raw bytes, some of them invalid UTF-8.
      writeFileSync(path, Buffer.from(lines.join('\n'), 'latin1'));
      const context = `seed ${seed} (${applied.join(', ')})`;
      try {
        const config = await loadConfig({ path, env: cleanEnv() });
        for (const name of config.clusters.keys()) describeTemplate(getClusterTemplate(config, name));
        awsClientSettings(config, {});
        outcomes.valid += 1;
      } catch (error) {
        if (!(error instanceof ConfigError) || !StarclusterError.is(error)) {
          throw new Error(`${context}: not a ConfigError: ${String(error)}`, { cause: error });
        }
        // getClusterTemplate may only fail for a missing default, which the loader reports first.
        expect(error.code, context).toBe('InvalidConfig');
        expect(error.details.length, context).toBeGreaterThan(0);
        for (const line of error.details) {
          if (!DETAIL.test(line))
            throw new Error(`${context}: unlocated detail ${JSON.stringify(line)}`, { cause: error });
        }
        outcomes.invalid += 1;
      }
    }
    expect(used.size).toBe(names.length);
    // Both outcomes must occur, or the mutations are not exercising the loader.
    expect(outcomes.valid).toBeGreaterThan(20);
    expect(outcomes.invalid).toBeGreaterThan(500);
    console.log(`config fuzz: ${outcomes.valid} valid, ${outcomes.invalid} invalid of ${ITERATIONS}`);
  });
});
