/**
 * Secrets and keys, from the command line a user runs (bin/dev.js in subprocesses):
 * - a fake AWS secret key (from [aws info], and from the environment) appears in no `--debug` log,
 *   no `--json` output and no error message, including an SDK failure (endpoint refusing
 *   connections) and a validation failure;
 * - the private key `createkey -o` writes is 0600;
 * - a started local cluster keeps its CURVE secrets 0600 (in a 0700 folder), and a ZeroMQ client
 *   with a foreign keypair can neither register nor submit.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEY_FILES, loadPeerKeys, newClusterKeys, startEngine } from '../../../src/engines/index.js';
import { readEngineState } from '../../../src/deploy/index.js';
import { StarclusterError } from '../../../src/errors.js';
import { ROOT, runCli, type CliRun } from '../../_helpers/cli.js';
import { localstackEndpoint } from '../faults/_cloud.js';

const SECRET = `scFakeSecret/${randomBytes(15).toString('base64url')}`;
const ENV_SECRET = `scEnvSecret/${randomBytes(15).toString('base64url')}`;
/** One secret planted in each place a secret can come from. */
const PLANTED = {
  config: `scCfg/${randomBytes(12).toString('base64url')}`,
  environment: `scEnv/${randomBytes(12).toString('base64url')}`,
  pluginSetting: `scPlugin/${randomBytes(12).toString('base64url')}`,
  userData: `scUserdata/${randomBytes(12).toString('base64url')}`,
};
let dir: string;
let endpoint: string;

/**
 * In a subprocess each (a fresh process knows no secret until the run registers it, as a user's
 * does); the AWS credentials only from where the case puts them.
 */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(args, {
    cwd: dir,
    timeoutMs: 180_000,
    env: {
      STARCLUSTER_HOME: join(dir, 'home'),
      AWS_ENDPOINT_URL: endpoint,
      ...env,
      AWS_ACCESS_KEY_ID: env.AWS_SECRET_ACCESS_KEY ? 'test' : undefined,
      AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    },
  });
}

/** A port on 127.0.0.1 that refuses connections (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  dir = await mkdtemp(join(tmpdir(), 'sc-secrets-'));
  await writeFile(
    join(dir, 'config'),
    [
      '[global]',
      'DEFAULT_TEMPLATE = sec',
      '[aws info]',
      'AWS_ACCESS_KEY_ID = AKIAFAKEFAKEFAKE',
      `AWS_SECRET_ACCESS_KEY = ${SECRET}`,
      '[key nokey]',
      `KEY_LOCATION = ${join(dir, 'nokey.rsa')}`,
      '[cluster sec]',
      'PROVIDER = ec2',
      'KEYNAME = nokey',
      'CLUSTER_SIZE = 2',
      'NODE_IMAGE_ID = ami-00000000',
      'NODE_INSTANCE_TYPE = t3.micro',
      '[cluster loc]',
      'PROVIDER = local',
      'CLUSTER_SIZE = 1',
      'ENGINES_PER_NODE = 1',
      'SHARED_FS = none',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'userdata.sh'), ['#!/bin/sh', `export DB_PASSWORD='${PLANTED.userData}'`, ''].join('\n'));
  await writeFile(
    join(dir, 'config-planted'),
    [
      '[global]',
      'DEFAULT_TEMPLATE = planted',
      '[aws info]',
      'AWS_ACCESS_KEY_ID = AKIAFAKEFAKEFAKE',
      `AWS_SECRET_ACCESS_KEY = ${PLANTED.config}`,
      '[plugin vault]',
      'SETUP_CLASS = vault.ts',
      `API_TOKEN = ${PLANTED.pluginSetting}`,
      '[cluster planted]',
      'PROVIDER = local',
      'CLUSTER_SIZE = 1',
      'ENGINES_PER_NODE = 1',
      'SHARED_FS = none',
      `USERDATA_SCRIPTS = ${join(dir, 'userdata.sh')}`,
      '',
    ].join('\n'),
  );
  // The same cloud settings with no credentials in the file: the SDK takes them from the environment.
  await writeFile(join(dir, 'config-env'), ['[global]', '[aws info]', 'AWS_REGION_NAME = us-east-1', ''].join('\n'));
}, 300_000);

afterAll(async () => {
  await cli(['terminate', 'secloc', '-c', '--config', join(dir, 'config')]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe('secrets never reach the output', () => {
  it('no --debug log, --json output or error message contains the AWS secret key', async () => {
    const config = join(dir, 'config');
    const refused = `http://127.0.0.1:${await closedPort()}`;
    const runs: [string, string[], NodeJS.ProcessEnv?][] = [
      ['config show --debug', ['config', 'show', '--config', config, '--debug']],
      ['config show --json', ['config', 'show', '--config', config, '--json']],
      ['listclusters --debug', ['listclusters', '--config', config, '--debug']],
      ['listclusters --json', ['listclusters', '--config', config, '--json']],
      ['listkeypairs --json --debug', ['listkeypairs', '--config', config, '--json', '--debug']],
      ['start (invalid) --debug', ['start', 'secbad', '-o', '--config', config, '--debug']],
      ['start (invalid) --json', ['start', 'secbad', '-o', '--config', config, '--json']],
      ['terminate (nothing) --debug', ['terminate', 'secnone', '-c', '--config', config, '--debug']],
      [
        'listclusters, endpoint refusing connections, --debug',
        ['listclusters', '--config', config, '--debug'],
        { AWS_ENDPOINT_URL: refused },
      ],
      [
        'listclusters, secret from the environment, --debug',
        ['listclusters', '--config', join(dir, 'config-env'), '--debug'],
        { AWS_SECRET_ACCESS_KEY: ENV_SECRET },
      ],
      [
        'listkeypairs, secret from the environment, refused endpoint, --json',
        ['listkeypairs', '--config', join(dir, 'config-env'), '--json'],
        { AWS_SECRET_ACCESS_KEY: ENV_SECRET, AWS_ENDPOINT_URL: refused },
      ],
    ];
    const leaks: string[] = [];
    const codes: string[] = [];
    for (const [label, args, env] of runs) {
      const r = await cli(args, env);
      codes.push(`${label}: exit ${r.code}`);
      for (const secret of [SECRET, ENV_SECRET]) {
        if (r.stdout.includes(secret)) leaks.push(`${label}: stdout`);
        if (r.stderr.includes(secret)) leaks.push(`${label}: stderr`);
      }
      // The commands must really have run (and failed where they should), or the test proves nothing.
      if (label.startsWith('start (invalid)')) expect(r.code, `${label}\n${r.stderr}`).toBeGreaterThan(1);
      // The SDK's failure path really ran (listclusters may report it as a warning or an error).
      if (label.includes('refus'))
        expect(
          r.code !== 0 || /ECONNREFUSED/.test(r.stdout + r.stderr),
          `${label}: exit ${r.code}, no ECONNREFUSED`,
        ).toBe(true);
      else if (label.includes('environment')) expect(r.code, `${label}\n${r.stderr}`).toBe(0);
      if (label.startsWith('config show')) expect(r.code, `${label}\n${r.stderr}`).toBe(0);
    }
    console.log(`secret checks: ${runs.length} CLI runs (${codes.join('; ')}); leaks: ${leaks.length}`);
    expect(leaks).toEqual([]);
  }, 600_000);
});

describe('one redaction path for every output', () => {
  it('a secret from the config, the environment, a plugin setting and user data reaches no output, log or error', async () => {
    const config = join(dir, 'config-planted');
    const echo = join(ROOT, 'test', '_fixtures', 'jobs', 'echo.ts');
    const all = Object.values(PLANTED).join(' ');
    const env = { GITHUB_TOKEN: PLANTED.environment };
    const common = ['--config', config, '--local', '-n', '1', '--param', `say=${all}`];
    const runs: [string, string[], 'ok' | 'fails'][] = [
      // Successful runs: the job prints and returns every secret (the result and `printed` in --json).
      ['run --json', ['run', echo, ...common, '--json'], 'ok'],
      ['run --json --debug', ['run', echo, ...common, '--json', '--debug'], 'ok'],
      ['run', ['run', echo, ...common], 'ok'],
      ['run --debug', ['run', echo, ...common, '--debug'], 'ok'],
      // Failing runs: the task's error names every secret.
      ['run (task fails) --json', ['run', echo, ...common, '--param', 'fail=true', '--json'], 'fails'],
      ['run (task fails) --debug', ['run', echo, ...common, '--param', 'fail=true', '--debug'], 'fails'],
      ['config show --json --debug', ['config', 'show', 'planted', '--config', config, '--json', '--debug'], 'ok'],
      ['config show', ['config', 'show', 'planted', '--config', config], 'ok'],
    ];
    const leaks: string[] = [];
    const codes: string[] = [];
    for (const [label, args, expected] of runs) {
      const r = await cli(args, env);
      codes.push(`${label}: exit ${r.code}`);
      if (expected === 'ok') expect(r.code, `${label}\n${r.stderr}`).toBe(0);
      else expect(r.code, `${label}\n${r.stderr}`).toBe(6);
      // The secrets really were in play: the job echoed them (redacted) or failed naming them.
      if (label.startsWith('run')) expect(r.stdout + r.stderr, label).toContain('***');
      for (const [where, secret] of Object.entries(PLANTED)) {
        if (r.stdout.includes(secret)) leaks.push(`${label}: stdout has the ${where} secret`);
        if (r.stderr.includes(secret)) leaks.push(`${label}: stderr has the ${where} secret`);
      }
    }
    console.log(
      `planted secrets (${Object.keys(PLANTED).join(', ')}): ${runs.length} CLI runs (${codes.join('; ')}); leaks: ${leaks.length}`,
    );
    expect(leaks).toEqual([]);
  }, 600_000);
});

describe('keys on disk and foreign keys', () => {
  it('createkey -o writes the private key 0600', async () => {
    const name = `sec-${randomBytes(4).toString('hex')}`;
    const file = join(dir, `${name}.rsa`);
    const r = await cli(['createkey', name, '-o', file, '--config', join(dir, 'config')]);
    try {
      expect(r.code, r.stderr).toBe(0);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(r.stdout + r.stderr).not.toContain('PRIVATE KEY');
    } finally {
      await cli(['removekey', name, '-c', '--config', join(dir, 'config')]);
    }
  }, 300_000);

  it('a local cluster keeps CURVE secrets 0600 in a 0700 folder; a foreign keypair cannot register or submit', async () => {
    const started = await cli(['start', 'secloc', '-c', 'loc', '--config', join(dir, 'config')]);
    expect(started.code, started.stderr).toBe(0);
    const stateDir = join(dir, 'home', 'clusters', 'secloc');
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    const modes: string[] = [];
    for (const f of await readdir(stateDir)) {
      if (!/curve|key|\.rsa|\.pem|id_/.test(f)) continue;
      const m = (await stat(join(stateDir, f))).mode & 0o777;
      modes.push(`${f} ${m.toString(8)}`);
      expect(m, f).toBe(0o600);
    }
    console.log(`key files of a local cluster: ${modes.join(', ')}`);
    expect(modes.some((m) => m.startsWith(KEY_FILES.controller))).toBe(true);

    const state = await readEngineState(stateDir);
    const endpointUrl = `tcp://${state!.host}:${state!.clientPort}`;
    // The attacker knows the controller's public key (it is public) but not the cluster's client or
    // engine secret: its own keypair must be refused by the ZAP handler before any message is read.
    const real = await loadPeerKeys(join(stateDir, KEY_FILES.client));
    const mine = newClusterKeys();
    const foreign = { serverPublicKey: real.serverPublicKey, ...mine.client };
    let outcome: unknown;
    try {
      const c = await Client.connect({ endpoint: endpointUrl, keys: foreign, timeoutMs: 3000 });
      // If it ever connected, it must not be able to run anything.
      outcome = await c
        .loadBalancedView()
        .apply(() => 42)
        .get(3000)
        .then(
          (v) => `submitted: ${String(v)}`,
          (e: unknown) => e,
        );
      await c.close();
    } catch (error) {
      outcome = error;
    }
    console.log(
      `foreign client: ${StarclusterError.is(outcome) ? `${outcome.code}: ${outcome.message}` : String(outcome)}`,
    );
    expect(StarclusterError.is(outcome), String(outcome)).toBe(true);
    expect((outcome as StarclusterError).code).toBe('ControllerUnreachable');
    expect((outcome as StarclusterError).message).toMatch(/refused this client's CURVE key|CURVE|within 3000 ms/);

    // A foreign engine cannot register: the cluster's own client still sees only its 1 engine.
    const engine = startEngine({
      controller: `tcp://${state!.host}:${state!.enginePort}`,
      keys: { serverPublicKey: real.serverPublicKey, ...mine.engine },
      node: 'intruder',
      heart: 'main',
      registerTimeoutMs: 3000,
    }).then(
      async (h) => {
        await h.close();
        return 'registered' as const;
      },
      (e: unknown) => e,
    );
    const engineOutcome = await engine;
    const own = await Client.connect({ endpoint: endpointUrl, keys: real, timeoutMs: 10_000 });
    const ids = own.ids;
    const nodes = own.engines.map((e) => JSON.stringify(e));
    await own.close();
    console.log(
      `foreign engine: ${StarclusterError.is(engineOutcome) ? `${engineOutcome.code}: ${engineOutcome.message}` : String(engineOutcome)}; ` +
        `engines the cluster sees: ${ids.length}`,
    );
    expect(engineOutcome).not.toBe('registered');
    expect(ids.length).toBe(1);
    expect(nodes.join()).not.toContain('intruder');

    const stopped = await cli(['terminate', 'secloc', '-c', '--config', join(dir, 'config')]);
    expect(stopped.code, stopped.stderr).toBe(0);
  }, 300_000);
});
