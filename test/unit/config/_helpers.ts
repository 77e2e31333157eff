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
