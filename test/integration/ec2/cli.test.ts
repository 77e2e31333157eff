import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyPair, deleteKeyPair, inventory, someImage } from '../../_helpers/localstack.js';

/**
 * The commands as a user runs them (bin/dev.js, a real config file), against LocalStack: exit
 * codes, and the AWS secret key from [aws info] never printed, not even with --debug.
 */
const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');
const run = randomBytes(3).toString('hex');
const KEY = `sc-cli-${run}`;
const NAME = `cli-${run}`;
// LocalStack accepts any secret; this one must never reach the output.
const SECRET = `fakeSecret/${randomBytes(12).toString('hex')}`;
let dir: string;
let configFile: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, STARCLUSTER_HOME: join(dir, 'home'), CI: 'true' };
  // The credentials come from the config file only.
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [join(ROOT, 'bin', 'dev.js'), ...args, '--config', configFile],
      {
        env,
        cwd: ROOT,
        timeout: 180_000,
      },
    );
    return { code: 0, out: stdout + stderr, stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
      stdout: e.stdout ?? '',
    };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-cli-'));
  const keyFile = join(dir, 'key.pem');
  await writeFile(keyFile, (await createKeyPair(KEY)).material, { mode: 0o600 });
  const image = await someImage();
  configFile = join(dir, 'config');
  await writeFile(
    configFile,
    [
      '[global]',
      'DEFAULT_TEMPLATE = small',
      '[aws info]',
      'AWS_ACCESS_KEY_ID = test',
      `AWS_SECRET_ACCESS_KEY = ${SECRET}`,
      `[key ${KEY}]`,
      `KEY_LOCATION = ${keyFile}`,
      '[cluster small]',
      `KEYNAME = ${KEY}`,
      'CLUSTER_SIZE = 2',
      `NODE_IMAGE_ID = ${image}`,
      'NODE_INSTANCE_TYPE = t3.micro',
      'SSH_CIDR = 198.51.100.0/24',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
});

afterAll(async () => {
  await deleteKeyPair(KEY).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('the cluster commands', () => {
  it('fail validation with exit 4 and never print the secret key, even with --debug', async () => {
    const bad = await cli('start', NAME, '-i', 'z9.imaginary', '--debug');
    expect(bad.code).toBe(4);
    expect(bad.out).toMatch(/instance type z9\.imaginary is not offered/);
    expect(bad.out).not.toContain(SECRET);
    const json = await cli('start', NAME, '-i', 'z9.imaginary', '--json', '--debug');
    expect(json.code).toBe(4);
    expect(json.out).toContain('"UnknownInstanceType"');
    expect(json.out).not.toContain(SECRET);
    expect(await inventory(NAME)).toEqual({ instances: [], securityGroups: [], placementGroups: [], spotRequests: [] });
  });

  it('start -o → listclusters --json → terminate -c, with the secret never shown', async () => {
    const started = await cli('start', NAME, '--create-only', '--debug');
    expect(started.code).toBe(0);
    expect(started.out).not.toContain(SECRET);
    expect((await inventory(NAME)).instances).toHaveLength(2);

    const listed = await cli('listclusters', NAME, '--json', '--debug');
    expect(listed.code).toBe(0);
    const clusters = JSON.parse(listed.stdout) as { name: string; nodes: unknown[] }[];
    expect(clusters.map((c) => [c.name, c.nodes.length])).toEqual([[NAME, 2]]);

    const gone = await cli('terminate', NAME, '-c', '--debug');
    expect(gone.code).toBe(0);
    expect(gone.out).not.toContain(SECRET);
    expect(await inventory(NAME)).toEqual({ instances: [], securityGroups: [], placementGroups: [], spotRequests: [] });
  });
});
