import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getClusterTemplate, loadConfig, validateConfig } from '../../../src/config/index.js';
import { StarclusterError } from '../../../src/errors.js';
import { applySettings, cleanEnv, fixture, tempConfig, type Setting } from './_helpers.js';

/**
 * StarCluster's own default config template (test/_fixtures/config/starcluster-template/config.ini,
 * as shipped), and with its examples uncommented, gives the verdicts StarCluster gave, or differs for
 * the reason each case of cases.json states.
 */

interface Case {
  name: string;
  uncomment: boolean;
  set?: Setting[];
  starcluster: 'loads' | 'invalid';
  ours: 'loads' | 'invalid';
  validate?: 'invalid';
  problem?: string;
  also?: string[];
  validateProblem?: string;
  warnings?: string[];
  expect?: { templates?: string[]; template?: string; matches?: Record<string, unknown> };
  reason?: string;
}

const DIR = fixture('starcluster-template');
const SHIPPED = readFileSync(join(DIR, 'config.ini'), 'utf8');
const { cases } = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Case[] };

/**
 * Switches on the template's examples: commented `[section]` headers and `KEY = value` lines lose
 * one `#`, as a user uncommenting them would; `# # note` lines become `# note`. Prose that happens to
 * start like a setting (`# EXTENDS=<cluster_name> variable in the new cluster section ...`) stays.
 */
export function uncomment(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const header = /^#\s?(\[[a-z]+( [^\]]+)?\])\s*$/.exec(line);
      if (header) return header[1] ?? line;
      const setting = /^#\s?([A-Z][A-Z0-9_]*\s*=(.*))$/.exec(line);
      if (setting && (setting[2] ?? '').trim().split(/\s+/).length <= 4) return setting[1] ?? line;
      const nested = /^# # (.*)$/.exec(line);
      return nested ? `# ${nested[1] ?? ''}` : line;
    })
    .join('\n');
}

describe("StarCluster's default config template", () => {
  it('uncommenting switches on every example section', () => {
    const text = uncomment(SHIPPED);
    const headers = text.split('\n').filter((l) => l.startsWith('['));
    expect(headers).toContain('[cluster largecluster]');
    expect(headers).toContain('[plugin xvfb]');
    expect(headers.filter((h) => h === '[volume oceandata]')).toHaveLength(2);
    expect(text).toContain('\n# EXTENDS=<cluster_name> variable in the new cluster section to use all\n');
  });

  for (const c of cases) {
    it(`${c.name}: StarCluster ${c.starcluster}, ours ${c.ours}${c.validate ? `, config validate ${c.validate}` : ''}`, async () => {
      if (c.starcluster !== c.ours || c.validate) expect(c.reason).toBeTruthy();
      const env = cleanEnv();
      const { text } = applySettings(c.uncomment ? uncomment(SHIPPED) : SHIPPED, c.set ?? []);
      const path = tempConfig(text);
      const outcome = await loadConfig({ path, env }).then(
        (config) => ({ config }),
        (error: unknown) => ({ error }),
      );
      if ('error' in outcome) {
        expect(c.ours).toBe('invalid');
        const e = outcome.error as StarclusterError;
        expect(StarclusterError.is(e) && e.exitCode).toBe(3);
        for (const wanted of [c.problem ?? '', ...(c.also ?? [])]) {
          expect(
            e.details.some((d) => d.startsWith(`${path}:`) && d.includes(wanted)),
            `${wanted} in\n${e.details.join('\n')}`,
          ).toBe(true);
        }
        return;
      }
      expect(c.ours, 'it loaded').toBe('loads');
      const config = outcome.config;
      if (c.expect?.templates) expect([...config.clusters.keys()]).toEqual(c.expect.templates);
      if (c.expect?.template)
        expect(getClusterTemplate(config, c.expect.template)).toMatchObject(c.expect.matches ?? {});
      for (const w of c.warnings ?? [])
        expect(
          (config.warnings ?? []).some((line) => line.includes(w)),
          `${w} in\n${(config.warnings ?? []).join('\n')}`,
        ).toBe(true);
      const validated = await validateConfig({ path, env }).then(
        () => 'loads',
        (error: unknown) => {
          const e = error as StarclusterError;
          expect(e.exitCode).toBe(3);
          if (c.validateProblem) expect(e.details.some((d) => d.includes(c.validateProblem ?? ''))).toBe(true);
          return 'invalid';
        },
      );
      expect(validated).toBe(c.validate ?? c.ours);
    });
  }
});
