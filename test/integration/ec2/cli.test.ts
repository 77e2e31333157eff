import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCommand } from '../../_helpers/cli.js';
import { createKeyPair, deleteKeyPair, inventory, someImage } from '../../_helpers/localstack.js';

/**
 * The commands as a user runs them (a real config file), against LocalStack: exit codes, and the
 * AWS secret key from [aws info] never printed, not even with --debug. The first run is a real
 * process (bin/dev.js: the exit status a shell sees, a fresh secret registry, --debug's stack
 * trace on stderr); the rest run in process (test/_helpers/cli.ts).
 */
const run = randomBytes(3).toString('hex');
const KEY = `sc-cli-${run}`;
const NAME = `cli-${run}`;
// LocalStack accepts any secret; this one must never reach the output.
const SECRET = `fakeSecret/${randomBytes(12).toString('hex')}`;
let dir: string;
let configFile: string;

/** The credentials come from the config file only. */
function env(): NodeJS.ProcessEnv {
  return { STARCLUSTER_HOME: join(dir, 'home'), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
}
const cli = (...args: string[]) => runCommand([...args, '--config', configFile], { env: env() });

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
    const bad = await runCli(['start', NAME, '-i', 'z9.imaginary', '--debug', '--config', configFile], { env: env() });
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
