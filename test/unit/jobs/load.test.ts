import { mkdir, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { failure } from '../../_helpers/failure.js';
import { loadJob } from '../../../src/jobs/load.js';

const fixtures = join(import.meta.dirname, '../../_fixtures/jobs');
const scratch = await mkdtemp(join(tmpdir(), 'sc-load-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('loadJob', () => {
  it('loads a job written outside the project that imports the job API and zod from starcluster', async () => {
    const file = join(scratch, 'outside', 'cubes.ts');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(
      file,
      [
        "import { z } from 'zod';",
        "import { defineJob } from 'starcluster/jobs';",
        'export default defineJob({',
        "  name: 'cubes',",
        '  params: z.object({ n: z.number().int().default(4) }),',
        '  tasks: (p: { n: number }) => Array.from({ length: p.n }, (_, i) => i),',
        '  run: (i: number) => i ** 3,',
        '  reduce: (outcomes: { value: number }[]) => outcomes.reduce((s, o) => s + o.value, 0),',
        '});',
      ].join('\n'),
    );
    const job = await loadJob(file);
    expect(job.definition.name).toBe('cubes');
    expect(job.definition.params.parse({})).toEqual({ n: 4 });
    expect(await job.definition.tasks({ n: 3 }, { engines: 1 })).toEqual([0, 1, 2]);
  });

  it('imports the job on the client with its native-addon imports intact', async () => {
    const job = await loadJob(join(fixtures, 'squares.ts'));
    expect(job.definition.name).toBe('squares');
    expect(job.moduleName).toMatch(/^job-squares-[0-9a-f]{16}$/);
    const figures = await job.definition.plot!({ tasks: 3 }, {});
    expect(Buffer.from(figures[0]!.png.subarray(1, 4)).toString()).toBe('PNG'); // "PNG"
  });

  it('makes a self-contained engine module: runs from anywhere, client-only packages stubbed', async () => {
    const job = await loadJob(join(fixtures, 'squares.ts'));
    expect(job.engineCode).not.toMatch(/from ["']zod["']/);
    // Written outside the project, so no node_modules can be found: everything must be inside.
    const file = join(scratch, 'engine.mjs');
    await writeFile(file, job.engineCode);
    const mod = (await import(pathToFileURL(file).href)) as {
      default: typeof job.definition;
      runTask: (item: [number, unknown], ctx: { engine: number }) => Promise<unknown>;
    };
    const value = await mod.runTask([0, { index: 0, from: 0, to: 4, failAt: -1, sleepMs: 0 }], { engine: 3 });
    expect(value).toMatchObject({ sum: 14, count: 4, engine: 3 });
    expect(() => mod.default.plot!({ tasks: 1 }, {})).toThrow(/@resvg\/resvg-js is not available on engines/);
  });

  it('refuses a job that imports zeromq, naming the rule', async () => {
    const error = await failure(loadJob(join(fixtures, 'imports-zeromq.ts')));
    expect(error.code).toBe('JobBundleFailed');
    expect(error.message).toContain('must not import zeromq');
  });

  it('refuses a module that is not a job, and a missing file', async () => {
    const notJob = await failure(loadJob(join(fixtures, 'not-a-job.ts')));
    expect(notJob.code).toBe('NotAJob');
    expect(notJob.message).toContain('missing params, tasks, run, reduce');
    const missing = await failure(loadJob(join(scratch, 'nope.ts')));
    expect(missing.code).toBe('JobNotFound');
  });

  it('reports a syntax error with file and line', async () => {
    const file = join(scratch, 'broken.ts');
    await writeFile(file, 'export default {\n  name: "x",,\n};\n');
    const error = await failure(loadJob(file));
    expect(error.code).toBe('JobBundleFailed');
    expect(error.message).toMatch(/broken\.ts:2:/);
  });
});
