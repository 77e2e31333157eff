import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getClusterTemplate, loadConfig, validateConfig } from '../../../src/config/index.js';
import { validateOffline } from '../../../src/cluster/validate.js';
import type { StarclusterConfig } from '../../../src/config/index.js';
import { StarclusterError } from '../../../src/errors.js';
import { applySettings as apply, cleanEnv, fixture, headerIndex, tempConfig, type Setting } from './_helpers.js';

/**
 * StarCluster's own config tests (starcluster/tests/test_config.py), as the data in
 * test/_fixtures/config/starcluster-tests/cases.json, run against our loader. Each case says what
 * StarCluster concluded and what we conclude; where the two differ the case carries its reason.
 */

interface Case {
  test: string;
  set?: Setting[];
  text?: string;
  file?: 'missing';
  template?: string;
  permute?: 'cluster';
  env?: Record<string, string>;
  starcluster: string;
  ours: string;
  problem?: string;
  at?: string | number;
  expect?: {
    templates?: string[];
    template?: string;
    matches?: Record<string, unknown>;
    keys?: Record<string, string>;
  };
  warnings?: string[];
  reason?: string;
}

const DIR = fixture('starcluster-tests');
const BASE = readFileSync(join(DIR, 'base.ini'), 'utf8');
const { cases } = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Case[] };

/** Every order of the [cluster] sections (test_order_invariance). */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

const withoutLocations = (config: StarclusterConfig) =>
  [...config.clusters.values()]
    .map(({ location: _location, ...rest }) => ({
      ...rest,
      plugins: rest.plugins.map(({ location: _l, ...p }) => p),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));

const LOADS = new Set(['loads']);

describe("StarCluster's test_config.py cases against our loader", () => {
  it('has a reason wherever the verdicts differ', () => {
    for (const c of cases) {
      const differ = LOADS.has(c.starcluster) !== LOADS.has(c.ours);
      if (differ) expect(c.reason, `${c.test}: ${JSON.stringify(c.set ?? c.text)}`).toBeTruthy();
    }
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  for (const [index, c] of cases.entries()) {
    const label = `${index + 1}. ${c.test}${c.set ? ` ${c.set.map(([s, k, v]) => `[${s}] ${k}=${v ?? '(removed)'}`).join('; ')}` : ''}: StarCluster ${c.starcluster}, ours ${c.ours}`;
    it(label, async () => {
      const env = cleanEnv(c.env ?? {});
      const { text, changed } = apply(c.text ?? BASE, c.set ?? []);
      const path = c.file === 'missing' ? join(tempConfig(''), '..', 'does-not-exist') : tempConfig(text);

      if (c.permute === 'cluster') {
        const reference = withoutLocations(await loadConfig({ path, env }));
        const firstCluster = text.indexOf('[cluster ');
        const blocks = text.slice(firstCluster).split(/\n(?=\[cluster )/);
        let orders = 0;
        for (const order of permutations(blocks)) {
          const permuted = `${text.slice(0, firstCluster)}${order.map((b) => b.trimEnd()).join('\n\n')}\n`;
          expect(withoutLocations(await loadConfig({ path: tempConfig(permuted), env }))).toEqual(reference);
          orders += 1;
        }
        expect(orders).toBe(24);
        return;
      }

      const outcome = await loadConfig({ path, env }).then(
        (config) => ({ config }),
        (error: unknown) => ({ error }),
      );
      if ('error' in outcome) {
        const error = outcome.error;
        expect(StarclusterError.is(error), String(error)).toBe(true);
        const e = error as StarclusterError;
        expect(e.exitCode).toBe(3);
        if (c.ours === 'invalid') {
          expect(e.code).toBe('InvalidConfig');
          const hit = e.details.find((d) => d.includes(c.problem ?? '\u0000'));
          expect(hit, `expected a problem containing ${c.problem}, got:\n${e.details.join('\n')}`).toBeDefined();
          const match = /^(.+):(\d+): /.exec(hit ?? '');
          expect(match?.[1]).toBe(path);
          const line = Number(match?.[2]);
          if (typeof c.at === 'number') expect(line).toBe(c.at);
          else if (typeof c.at === 'string') expect(line).toBe(headerIndex(text.split('\n'), c.at.slice(1, -1)) + 1);
          else expect(changed).toContain(line);
        } else {
          expect(e.code).toBe(c.ours);
        }
        return;
      }
      const config = outcome.config;
      if (c.template !== undefined) {
        let code: string | undefined;
        try {
          getClusterTemplate(config, c.template);
        } catch (error) {
          code = (error as StarclusterError).code;
          expect((error as StarclusterError).exitCode).toBe(3);
        }
        expect(code).toBe(c.ours);
        return;
      }
      expect(c.ours, `loaded, but the case expects ${c.ours}`).toBe('loads');
      const x = c.expect ?? {};
      if (x.templates) expect([...config.clusters.keys()]).toEqual(x.templates);
      if (x.template) expect(getClusterTemplate(config, x.template)).toMatchObject(x.matches ?? {});
      for (const [name, location] of Object.entries(x.keys ?? {})) {
        expect(config.keys.get(name)?.location).toBe(location.replace(/^~/, env.HOME ?? '~'));
      }
      const warnings = config.warnings ?? [];
      for (const w of c.warnings ?? []) {
        expect(
          warnings.some((line) => line.includes(w) && line.startsWith(`${path}:`)),
          `warning ${w} in:\n${warnings.join('\n')}`,
        ).toBe(true);
      }
      if (!c.warnings) expect(warnings.filter((w) => !w.includes('[permission s2]'))).toEqual([]);
    });
  }

  it('loads the test config, but `config validate` and `start` refuse its Python plugins, located, before anything is made', async () => {
    const path = tempConfig(BASE);
    const error = await validateConfig({ path, env: cleanEnv() }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.exitCode).toBe(3);
    const details = (error as StarclusterError).details;
    expect(details.map((d) => d.split(' SETUP_CLASS')[0])).toEqual([
      `${path}:51: [plugin p1]`,
      `${path}:56: [plugin p2]`,
      `${path}:61: [plugin p3]`,
    ]);
    expect(details[0]).toContain('is a StarCluster (Python) plugin class');
    expect(details[0]).toContain('docs/porting-plugins.md');
    const config = await loadConfig({ path, env: cleanEnv() });
    const problems = await validateOffline(getClusterTemplate(config, 'c1'));
    expect(problems.filter((p) => p.code === 'PluginInvalid').map((p) => p.message.split(' SETUP_CLASS')[0])).toEqual([
      `${path}:51: [plugin p1]`,
      `${path}:56: [plugin p2]`,
      `${path}:61: [plugin p3]`,
    ]);
  });
});
