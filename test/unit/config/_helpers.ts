import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { loadConfig } from '../../../src/config/index.js';
import type { StarclusterConfig } from '../../../src/config/index.js';

export const FIXTURES = resolve(fileURLToPath(new URL('../../_fixtures/config/', import.meta.url)));
export const fixture = (name: string): string => join(FIXTURES, name);

/** An environment with nothing from the machine running the tests. */
export const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  HOME: join(FIXTURES, 'include', 'home'),
  ...extra,
});

export function load(name: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<StarclusterConfig> {
  return loadConfig({ path: fixture(name), env });
}

/** Writes text to a fresh temporary file and returns its path. */
export function tempConfig(text: string, name = 'config'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sc-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The `details` of the ConfigError loading `path` throws, with the fixture folder stripped. */
export async function problems(pathOrFixture: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<string[]> {
  const path = pathOrFixture.startsWith('/') ? pathOrFixture : fixture(pathOrFixture);
  try {
    await loadConfig({ path, env });
  } catch (error) {
    expect(StarclusterError.is(error)).toBe(true);
    const e = error as StarclusterError;
    expect(e.code).toBe('InvalidConfig');
    expect(e.exitCode).toBe(3);
    for (const line of e.details) expect(line).toMatch(/^.+:\d+: /);
    return e.details.map((d) => d.split(`${FIXTURES}/`).join(''));
  }
  throw new Error(`${path} loaded without problems`);
}

/** A change to a config text: set `KEY = value` in `[section]` (added after the header if absent); null removes the line. */
export type Setting = [section: string, key: string, value: string | null];

/** The 0-based line index of `[section]` (the first, if written twice). */
export const headerIndex = (lines: string[], section: string): number => {
  const index = lines.findIndex((l) => l.trim().toLowerCase() === `[${section.toLowerCase()}]`);
  if (index < 0) throw new Error(`base.ini has no [${section}]`);
  return index;
};

/** Applies the case's changes as get_custom_config did; returns the text and the 1-based lines changed. */
export function applySettings(text: string, settings: readonly Setting[]): { text: string; changed: number[] } {
  let lines = text.split('\n');
  const changed: number[] = [];
  for (const [section, key, value] of settings) {
    const header = headerIndex(lines, section);
    let end = lines.findIndex((l, i) => i > header && l.trim().startsWith('['));
    if (end < 0) end = lines.length;
    const keyLine = lines.findIndex((l, i) => i > header && i < end && new RegExp(`^\\s*${key}\\s*[=:]`, 'i').test(l));
    if (value === null) {
      if (keyLine >= 0) lines = [...lines.slice(0, keyLine), ...lines.slice(keyLine + 1)];
      changed.push(header + 1);
    } else if (keyLine >= 0) {
      lines[keyLine] = `${key} = ${value}`;
      changed.push(keyLine + 1);
    } else {
      lines = [...lines.slice(0, header + 1), `${key} = ${value}`, ...lines.slice(header + 1)];
      changed.push(header + 2);
    }
  }
  return { text: lines.join('\n'), changed };
}
