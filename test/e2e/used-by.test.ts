/**
 * The used-by flow, as a user runs it (bin/dev.js in subprocesses), on LocalStack + the test fleet:
 *
 *   config init → edit the template for LocalStack + fleet → createkey → start e2e (4 nodes, sshfs)
 *   → run jobs/pi.ts → put the Stripe 82 data on the shared filesystem → run jobs/star-periods.ts
 *   → figures written → resize e2e 6 → run pi on 6 nodes → a node terminated behind our back during
 *   a pi run while its engine computes a task (exact count; the run reports that engine lost; resize
 *   replaces the node) → resize e2e 2 → terminate e2e -c → boto3 + fleet find nothing of the cluster,
 *   and listclusters (which showed it after start) no longer shows it.
 *
 * Steps run in order; a step whose prerequisite failed is skipped (the summary line counts it as
 * failed). Whatever happens, the cluster is terminated and the key pair removed at the end.
 * Needs root (the fleet makes network namespaces); without it every step is skipped with that reason.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkZeroLeak,
  describeLeaks,
  FLEET,
  fleetStatus,
  leakCount,
  LOCALSTACK_PYTHON,
} from '../_helpers/zero-leak.js';
import { runCli, type CliRun } from '../_helpers/cli.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = join(ROOT, '..', 'shared', 'data', 's82-rrlyrae');
const AMI = 'ami-1e749f67'; // an AMI LocalStack knows (ubuntu trusty)
const RUN = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const CLUSTER = `e2e${RUN}`;
const KEY = `e2e-${RUN}`;
const PI_SAMPLES = 200_000_000;

let dir = '';
let home = '';
let endpoint = '';
let broken: string | undefined;
let startedFleet = false;
const figures: string[] = [];

function cli(args: string[], timeoutMs = 600_000): Promise<CliRun> {
  return runCli(args, {
    env: { STARCLUSTER_HOME: home, AWS_ENDPOINT_URL: endpoint },
    cwd: dir,
    timeoutMs,
    killSignal: 'SIGINT',
  });
}

/** Runs a step unless an earlier one broke the flow; a failing step breaks it for the rest. */
function step(title: string, body: () => Promise<void>, timeoutMs = 900_000): void {
  it(
    title,
    async (ctx) => {
      if (broken) ctx.skip(`not reached: ${broken}`);
      try {
        await body();
      } catch (error) {
        broken = `"${title}" failed`;
        throw error;
      }
    },
    timeoutMs,
  );
}

function ok(r: CliRun, what: string): void {
  expect(
    r.code,
    `${what} exited ${r.code}\n--- stderr ---\n${r.stderr.slice(-4000)}\n--- stdout ---\n${r.stdout.slice(-2000)}`,
  ).toBe(0);
}

/** The fleet's hosts of the cluster once they number `want` (the reconciler converges within seconds; bounded: 90 s). */
async function fleetHosts(want: number): Promise<number> {
  let n = -1;
  for (let i = 0; i < 90; i++) {
    n = (await fleetStatus(endpoint)).hosts.filter((h) => h.cluster === CLUSTER).length;
    if (n === want) return n;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return n;
}

function lastJson<T>(stdout: string): T {
  const start = stdout.indexOf('{');
  return JSON.parse(stdout.slice(start)) as T;
}

/** `listclusters --json`'s entry for CLUSTER, if it lists one. */
function listedCluster(stdout: string): { name: string; nodes: { alias: string; state: string }[] } | undefined {
  const start = stdout.indexOf('[');
  const all = JSON.parse(stdout.slice(start)) as { name: string; nodes: { alias: string; state: string }[] }[];
  return all.find((c) => c.name === CLUSTER);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-e2e-'));
  home = join(dir, 'home');
  endpoint = process.env.AWS_ENDPOINT_URL ?? '';
  if (process.getuid?.() !== 0) {
    broken = 'the test fleet needs root (network namespaces); run npm run test:e2e as root';
    return;
  }
  if (!existsSync(FLEET)) {
    broken = 'localstack/fleet is missing';
    return;
  }
  const status = await fleetStatus(endpoint);
  if (!status.reconcilerRunning) {
    await exec(FLEET, ['start'], { env: { ...process.env, AWS_ENDPOINT_URL: endpoint }, timeout: 300_000 });
    startedFleet = true;
  }
}, 600_000);

afterAll(async () => {
  if (home && endpoint && !broken?.includes('root')) {
    // Whatever happened: nothing may be left running or billed.
    await cli(['terminate', CLUSTER, '-c', '-f'], 600_000);
    await cli(['removekey', KEY, '-c'], 120_000);
  }
  if (startedFleet) await exec(FLEET, ['stop'], { timeout: 300_000 }).catch(() => undefined);
  if (figures.length) console.log(`e2e figures: ${figures.join('; ')}`);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 900_000);

describe.sequential('used-by flow: LocalStack + fleet, 4 → 6 → 2 nodes', () => {
  const keyFile = () => join(dir, `${KEY}.rsa`);
  const configFile = () => join(home, 'config');

  step('config init writes the template', async () => {
    const r = await cli(['config', 'init']);
    ok(r, 'config init');
    expect(existsSync(configFile())).toBe(true);
  });

  step('createkey makes the key pair (private key 0600)', async () => {
    const r = await cli(['createkey', KEY, '-o', keyFile()]);
    ok(r, 'createkey');
    expect((await stat(keyFile())).mode & 0o777).toBe(0o600);
  });

  step('the template is edited for LocalStack + fleet', async () => {
    const subnet = (
      await exec(FLEET, ['subnet'], { env: { ...process.env, AWS_ENDPOINT_URL: endpoint }, timeout: 120_000 })
    ).stdout
      .trim()
      .split('\n')
      .pop();
    expect(subnet).toMatch(/^subnet-/);
    const text = await readFile(configFile(), 'utf8');
    const edited = text.replace(/^DEFAULT_TEMPLATE\s*=.*$/m, 'DEFAULT_TEMPLATE = e2e');
    await writeFile(
      configFile(),
      [
        edited,
        `[key ${KEY}]`,
        `KEY_LOCATION = ${keyFile()}`,
        '',
        '[cluster e2e]',
        'PROVIDER = ec2',
        `KEYNAME = ${KEY}`,
        'CLUSTER_SIZE = 4',
        `NODE_IMAGE_ID = ${AMI}`,
        'NODE_INSTANCE_TYPE = t3.micro',
        `SUBNET_ID = ${subnet}`,
        'PUBLIC_IPS = False',
        'SHARED_FS = sshfs',
        'SSH_CIDR = 198.18.0.0/15',
        'ENGINES_PER_NODE = 1',
        // The Slurm queue is shown by test/integration/fleet/queue.test.ts; this flow is the engines'.
        'DISABLE_QUEUE = True',
        '',
      ].join('\n'),
    );
    ok(await cli(['config', 'validate']), 'config validate');
  });

  step('start e2e: 4 nodes, set up, engines running', async () => {
    const r = await cli(['start', CLUSTER, '-c', 'e2e'], 900_000);
    ok(r, 'start');
    const list = await cli(['listclusters', '--json']);
    ok(list, 'listclusters');
    // listclusters reads the cluster from the cloud's tags: there, with its 4 running nodes.
    const listed = listedCluster(list.stdout);
    expect(listed, `${CLUSTER} not in listclusters:\n${list.stdout.slice(-2000)}`).toBeDefined();
    expect(listed!.nodes.map((n) => `${n.alias}:${n.state}`).sort()).toEqual(
      ['master', 'node001', 'node002', 'node003'].map((a) => `${a}:running`),
    );
    const hosts = await fleetHosts(4);
    figures.push(`start: ${hosts} fleet hosts`);
    expect(hosts).toBe(4);
  });

  step('run jobs/pi.ts on 4 nodes: exact sample count', async () => {
    const r = await cli(['run', join(ROOT, 'jobs/pi.ts'), '-c', CLUSTER, '--param', `samples=${PI_SAMPLES}`, '--json']);
    ok(r, 'run pi');
    const out = lastJson<{ engines: number; result: { samples: number; pi: number } }>(r.stdout);
    figures.push(`pi on 4 nodes: ${out.engines} engines, pi ≈ ${out.result.pi}`);
    expect(out.engines).toBe(4);
    expect(out.result.samples).toBe(PI_SAMPLES);
    expect(Math.abs(out.result.pi - Math.PI)).toBeLessThan(0.001);
  });

  step('put the Stripe 82 data on the shared filesystem; node001 sees it', async () => {
    ok(await cli(['put', CLUSTER, DATA, '/home/sgeadmin/s82-rrlyrae', '-u', 'root']), 'put');
    const seen = await cli(['sshnode', CLUSTER, 'node001', 'ls /home/sgeadmin/s82-rrlyrae']);
    ok(seen, 'sshnode ls');
    for (const f of await readdir(DATA)) expect(seen.stdout).toContain(f);
  });

  step('run jobs/star-periods.ts on the Stripe 82 data: figures written', async () => {
    // The job reads the catalogue where the client runs and ships light curves to the engines as
    // binary payloads, so `data` is this machine's copy (the same files put on the cluster above).
    const out = join(dir, 'star-periods');
    const r = await cli([
      'run',
      join(ROOT, 'jobs/star-periods.ts'),
      '-c',
      CLUSTER,
      '--param',
      `data=${DATA}`,
      '--param',
      'format=s82',
      '--out',
      out,
      '--json',
    ]);
    ok(r, 'run star-periods');
    const files = (await readdir(out)).filter((f) => /\.(svg|png)$/.test(f));
    figures.push(`star-periods: ${files.length} figure files`);
    expect(files.length).toBeGreaterThan(0);
  });

  step('resize e2e 6', async () => {
    ok(await cli(['resize', CLUSTER, '6'], 900_000), 'resize 6');
    expect(await fleetHosts(6)).toBe(6);
  });

  step('run jobs/pi.ts on 6 nodes', async () => {
    const r = await cli(['run', join(ROOT, 'jobs/pi.ts'), '-c', CLUSTER, '--param', `samples=${PI_SAMPLES}`, '--json']);
    ok(r, 'run pi (6 nodes)');
    const out = lastJson<{ engines: number; result: { samples: number } }>(r.stdout);
    figures.push(`pi on 6 nodes: ${out.engines} engines`);
    expect(out.engines).toBe(6);
    expect(out.result.samples).toBe(PI_SAMPLES);
  });

  step(
    'a node terminated behind our back mid-job: pi still exact; its engine reported lost; resize replaces it',
    async () => {
      // One task per engine (test/_fixtures/jobs/held-pi.ts: pi whose tasks cannot return while a hold
      // file exists on the shared /home). node005 is terminated once its task has started and the run
      // is let go only after its host is gone, so the task is certainly running when the node dies,
      // whatever the machine's speed: the run can end only after the controller has declared that
      // engine dead and resubmitted its task.
      const samples = 600_000_000;
      const hold = `/home/e2e-hold-${RUN}`;
      ok(await cli(['sshmaster', CLUSTER, `mkdir -p ${hold} && chmod 1777 ${hold} && touch ${hold}/hold`]), 'hold');
      const running = cli([
        'run',
        join(ROOT, 'test/_fixtures/jobs/held-pi.ts'),
        '-c',
        CLUSTER,
        '--param',
        `samples=${samples}`,
        '--param',
        'tasks=6',
        '--param',
        `hold=${hold}`,
        '--json',
      ]);
      let finished = false;
      void running.finally(() => (finished = true));
      // Wait (bounded: 300 s) until node005's engine has started its task.
      let engine: number | undefined;
      for (let i = 0; i < 300 && !finished && engine === undefined; i++) {
        const r = await cli(['sshmaster', CLUSTER, `cat ${hold}/started-node005 2>/dev/null || true`], 60_000);
        const id = /^(\d+)\s*$/.exec(r.stdout.trim());
        if (id) engine = Number(id[1]);
        else await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      expect(engine, `node005's engine never started a task:\n${finished ? (await running).stderr : ''}`).toBeDefined();
      const victim = `${CLUSTER}-node005`;
      const { stdout } = await exec(
        LOCALSTACK_PYTHON,
        [
          '-c',
          [
            'import sys, boto3',
            'e = boto3.client("ec2")',
            'r = e.describe_instances(Filters=[{"Name": "tag:Name", "Values": [sys.argv[1]]}, {"Name": "instance-state-name", "Values": ["running"]}])',
            'ids = [i["InstanceId"] for x in r["Reservations"] for i in x["Instances"]]',
            'e.terminate_instances(InstanceIds=ids)',
            'print(",".join(ids))',
          ].join('\n'),
          victim,
        ],
        { env: { ...process.env, AWS_ENDPOINT_URL: endpoint }, timeout: 60_000 },
      );
      expect(stdout.trim(), `no running ${victim}`).toMatch(/^i-/);
      // The node's host is gone (its engine with it) before any task may finish.
      expect(await fleetHosts(5)).toBe(5);
      expect(finished, 'the run ended while its tasks were held').toBe(false);
      ok(await cli(['sshmaster', CLUSTER, `rm -f ${hold}/hold`]), 'release');
      const r = await running;
      ok(r, 'run pi while a node is terminated');
      await cli(['sshmaster', CLUSTER, `rm -rf ${hold}`]);
      const out = lastJson<{ engines: number; result: { samples: number }; enginesLost: number[] }>(r.stdout);
      figures.push(
        `node terminated mid-job (${stdout.trim()}, while its engine ${engine} held a started task): pi samples ` +
          `${out.result.samples} of ${samples}; engines lost ${JSON.stringify(out.enginesLost)}`,
      );
      expect(out.result.samples).toBe(samples);
      // The run's result names exactly the engine that died with node005 (ENGINES_PER_NODE = 1).
      expect(out.enginesLost).toEqual([engine]);
      ok(await cli(['resize', CLUSTER, '6'], 900_000), 'resize 6 (replace the lost node)');
      expect(await fleetHosts(6)).toBe(6);
    },
  );

  step('resize e2e 2', async () => {
    ok(await cli(['resize', CLUSTER, '2', '-c'], 900_000), 'resize 2');
    expect(await fleetHosts(2)).toBe(2);
  });

  step('terminate e2e -c leaves nothing (boto3 and fleet)', async () => {
    ok(await cli(['terminate', CLUSTER, '-c'], 900_000), 'terminate');
    // The fleet reconciler removes hosts on its next pass (bounded wait: 60 s).
    let report = await checkZeroLeak(CLUSTER, { endpoint, fleet: true });
    for (let i = 0; i < 60 && report.fleetHosts.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      report = await checkZeroLeak(CLUSTER, { endpoint, fleet: true });
    }
    figures.push(`terminate: resources leaked ${leakCount(report)} (fleet checked: ${report.fleetChecked})`);
    expect(report.fleetChecked).toBe(true);
    expect(leakCount(report), describeLeaks(report)).toBe(0);
    // And listclusters, from the tags alone, no longer shows it.
    const list = await cli(['listclusters', '--json']);
    ok(list, 'listclusters after terminate');
    expect(listedCluster(list.stdout), list.stdout.slice(-2000)).toBeUndefined();
  });
});
