import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The AWS SDK loads only when an EC2 cluster is used: a child process runs local-cluster code
 * paths (start --plan, listclusters, openCluster, terminate) with a module-resolve hook that writes
 * down every @aws-sdk module resolved. The EC2 case shows the hook does see the SDK when it loads.
 */
const exec = promisify(execFile);
const here = join(import.meta.dirname, '_lazy-sdk');
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sc-lazy-sdk-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

async function sdkModulesLoadedBy(which: 'local' | 'ec2'): Promise<string[]> {
  const log = join(home, `${which}.log`);
  await writeFile(log, '');
  await exec(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, 'entry.mjs'),
      pathToFileURL(join(here, 'hook.mjs')).href,
      log,
      pathToFileURL(join(here, 'paths.ts')).href,
      which,
    ],
    {
      cwd: join(import.meta.dirname, '..', '..', '..'),
      env: { PATH: process.env.PATH, HOME: home, STARCLUSTER_HOME: join(home, '.starcluster') },
      timeout: 120_000,
    },
  );
  return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
}

describe('the AWS SDK stays unloaded for local clusters', () => {
  it('start --plan, listclusters, openCluster and terminate of a local cluster resolve no @aws-sdk module', async () => {
    expect(await sdkModulesLoadedBy('local')).toEqual([]);
  });

  it('making an EC2 provider does resolve @aws-sdk/client-ec2 (the hook sees the SDK)', async () => {
    const loaded = await sdkModulesLoadedBy('ec2');
    expect(loaded.some((url) => url.includes('/@aws-sdk/client-ec2/'))).toBe(true);
  });
});
