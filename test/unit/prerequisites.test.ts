import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../_helpers/cli.js';

/**
 * `npm test` on a fresh machine: test/prerequisites.sh names exactly what is missing and exits
 * non-zero, before any test could skip for want of it. Only its refusals are run here (a copy of
 * the script in a scratch tree): they come before anything is installed.
 */
let scratch: string | undefined;
afterEach(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

async function copyOfScript(): Promise<string> {
  scratch = await mkdtemp(join(tmpdir(), 'sc-prereq-'));
  await mkdir(join(scratch, 'repo', 'test'), { recursive: true });
  const script = join(scratch, 'repo', 'test', 'prerequisites.sh');
  await copyFile(join(ROOT, 'test', 'prerequisites.sh'), script);
  return script;
}

function run(script: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; stderr: string } {
  const r = spawnSync('bash', [script], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('test/prerequisites.sh', () => {
  it('refuses a Node.js older than package.json asks, saying which it found', async () => {
    const script = await copyOfScript();
    const bin = join(scratch!, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'node'), '#!/bin/sh\nif [ "$1" = -p ]; then echo 18; else echo v18.20.4; fi\n');
    await chmod(join(bin, 'node'), 0o755);
    const r = run(script, { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('npm test needs Node.js >= 20; this is v18.20.4.');
  });

  it('names each shared data file the science tests need that is not there, and exits 1', async () => {
    const script = await copyOfScript();
    await mkdir(join(scratch!, 'shared', 'data', 'linear'), { recursive: true });
    await writeFile(join(scratch!, 'shared', 'data', 'linear', 'allLINEARfinal_targets.dat.gz'), '');
    const r = run(script);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`npm test needs the shared data sets next to this checkout (in ${scratch}/shared/data)`);
    const named = r.stderr.split('\n').filter((l) => l.startsWith('  ../shared/data/'));
    expect(named.map((l) => l.trim())).toEqual([
      '../shared/data/RRLyr_ugriz_templates.tar.gz',
      '../shared/data/s82-rrlyrae/table1.tar.gz',
      '../shared/data/s82-rrlyrae/table2.dat.gz',
      '../shared/data/s82-rrlyrae/table3.dat.gz',
    ]);
  });
});
