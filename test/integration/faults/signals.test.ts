/**
 * The CLI's `start -o` and the signals a user sends it (bin/dev.js in a subprocess, LocalStack behind
 * the fault proxy). The proxy holds chosen EC2 calls, so every signal lands at a known point with no
 * guess of time: mid-launch (the wait for the instances to run), then mid-rollback (TerminateInstances).
 * - SIGTERM and SIGHUP roll back like Ctrl-C: exit 130, nothing left;
 * - a second Ctrl-C says what is made and how to remove it (`starcluster terminate NAME`) and the
 *   cleanup goes on; a third exits at once, and that `terminate` leaves nothing.
 * Each case ends with the independent boto3 leak check. Also: SSH_CIDR left at 0.0.0.0/0 is warned
 * about once, with the fix, at `start` and in `--plan`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import { spawnCli, type LiveCli } from '../../_helpers/cli.js';
import { startFaultProxy, type FaultProxy, type ProxyCall } from '../../_helpers/fault-proxy.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from './_cloud.js';

let endpoint: string;
let fx: Ec2Fixture;
let proxy: FaultProxy;
/** Which calls the proxy holds right now (a test sets it; the default holds nothing). */
let holding: (call: ProxyCall) => boolean = () => false;

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  fx = await ec2Fixture(endpoint, { size: 2 });
  proxy = await startFaultProxy({
    target: endpoint,
    seed: 1,
    rates: { throttle: 0, serverError: 0, timeout: 0 },
    script: (call) => (holding(call) ? { hold: true } : undefined),
  });
}, 300_000);

afterAll(async () => {
  holding = () => false;
  proxy?.release();
  await proxy?.close();
  await fx?.cleanup();
});

/** The instance waiter's poll (DescribeInstances naming instance ids): start is mid-launch. */
const waiterPoll = (c: ProxyCall): boolean => c.action === 'DescribeInstances' && c.form.has('InstanceId.1');

/** `starcluster ARGS --config FILE` in a subprocess, its EC2 calls through `url` (the proxy unless said). */
function cli(args: string[], url = proxy.url): LiveCli {
  return spawnCli([...args, '--config', fx.configPath], { env: { ...fx.env, AWS_ENDPOINT_URL: url } });
}

/**
 * `start -o` interrupted once mid-launch, its rollback then held at TerminateInstances: the point
 * where a second and a third Ctrl-C land.
 */
async function startHeldInRollback(name: string): Promise<LiveCli> {
  holding = (c) => waiterPoll(c) || c.action === 'TerminateInstances';
  const heldLaunch = proxy.nextCall((c) => c.held && waiterPoll(c));
  const run = cli(['start', name, '-o']);
  await heldLaunch;
  const heldTerminate = proxy.nextCall((c) => c.held && c.action === 'TerminateInstances');
  run.kill('SIGINT');
  await run.printed('interrupted (SIGINT)');
  holding = (c) => c.action === 'TerminateInstances';
  proxy.release();
  await heldTerminate; // the rollback is terminating the instances: still running
  return run;
}

async function leaks(name: string): Promise<number> {
  const report = await checkZeroLeak(name, { endpoint, fleet: false });
  expect(leakCount(report), describeLeaks(report)).toBe(0);
  return leakCount(report);
}

describe('signals to `start`', () => {
  it.each(['SIGTERM', 'SIGHUP'] as const)(
    '%s mid-launch rolls back like Ctrl-C: exit 130, nothing left',
    async (signal) => {
      const name = clusterName(signal.toLowerCase());
      holding = waiterPoll;
      const held = proxy.nextCall((c) => c.held && waiterPoll(c));
      const run = cli(['start', name, '-o']);
      await held; // instances made, start waits for them to run
      run.kill(signal);
      await run.printed(`interrupted (${signal})`);
      holding = () => false;
      proxy.release();
      const { code } = await run.exited;
      expect(code, run.out()).toBe(130);
      expect(run.out()).toContain('undo: Launching instances');
      console.log(`${signal} mid-launch: exit ${code}; resources leaked: ${await leaks(name)}`);
    },
    300_000,
  );

  it('a second Ctrl-C says what is left and how to remove it, and the cleanup goes on', async () => {
    const name = clusterName('ctrlc2');
    const run = await startHeldInRollback(name);
    run.kill('SIGINT');
    await run.printed(`starcluster terminate ${name}`);
    const second =
      run
        .out()
        .split('\n')
        .find((l) => l.includes('still undoing')) ?? '';
    expect(second).toContain('made so far: ');
    expect(second).toContain('Launching instances');
    expect(second).toContain(`\`starcluster terminate ${name}\``);
    holding = () => false;
    proxy.release();
    const { code } = await run.exited;
    expect(code, run.out()).toBe(130);
    console.log(`second Ctrl-C: "${second}"; exit ${code}; resources leaked: ${await leaks(name)}`);
  }, 300_000);

  it('a third Ctrl-C exits at once; `terminate NAME` then removes what is left', async () => {
    const name = clusterName('ctrlc3');
    const run = await startHeldInRollback(name);
    run.kill('SIGINT');
    await run.printed('still undoing');
    run.kill('SIGINT');
    const { code } = await run.exited; // while its TerminateInstances is still held
    expect(code, run.out()).toBe(130);
    expect(run.out()).toContain(`exiting without finishing the cleanup: run \`starcluster terminate ${name}\``);
    holding = () => false;
    proxy.release();
    const t = cli(['terminate', name, '-c'], endpoint);
    expect((await t.exited).code, t.out()).toBe(0);
    console.log(`third Ctrl-C: exit ${code}; after terminate, resources leaked: ${await leaks(name)}`);
  }, 300_000);
});

describe('start asks before launching', () => {
  it('shows the plan with its hourly cost and asks; a no creates nothing', async () => {
    const name = clusterName('ask');
    const io = new RecordingIoHost([false]);
    const result = await fx.start(name, { io, confirm: true });
    expect(result.declined).toBe(true);
    expect(result.created).toEqual({ instanceIds: [] });
    expect(io.questions).toEqual([
      `Launch 2 instances for cluster ${name} for about $${result.plan.hourlyCostUsd.toFixed(4)}/hour?`,
    ]);
    expect(result.plan.hourlyCostUsd).toBeGreaterThan(0);
    const shown = io.messages.find((m) => m.code === 'SC_START_I0001')?.message ?? '';
    expect(shown).toContain(`Plan for cluster ${name}`);
    expect(shown).toMatch(/Estimated cost: \$\d+\.\d{4}\/hour/);
    console.log(`asked: "${io.questions[0]}" → no; resources made: ${await leaks(name)}`);
  }, 300_000);
});

describe('SSH_CIDR left open to the world', () => {
  it('start and --plan warn once, with how to find your own address; a set SSH_CIDR is not warned about', async () => {
    const open = { ...fx.template, sshCidr: '0.0.0.0/0' };
    const name = clusterName('cidr');
    const io = new RecordingIoHost();
    const provider = await fx.provider();
    try {
      const started = await fx.start(name, { template: open, io, provider });
      const warned = io.messages.filter((m) => m.code === 'SC_START_W0001');
      expect(warned).toHaveLength(1);
      expect(warned[0]?.message).toMatch(/SSH_CIDR is 0\.0\.0\.0\/0.*SSH_CIDR = 203\.0\.113\.7\/32.*checkip/);
      expect(started.plan.warnings).toHaveLength(1);
    } finally {
      await fx.terminate(name, { io, provider });
    }
    // --plan: in the plan, once; the fixture's own template (SSH_CIDR = 203.0.113.0/24) has none.
    const plain = { ...fx.template };
    const planned = await startCluster({ name, template: open, config: fx.config, io, provider, mode: 'plan' });
    const quiet = await startCluster({ name, template: plain, config: fx.config, io, provider, mode: 'plan' });
    expect(planned.plan.warnings).toHaveLength(1);
    expect(quiet.plan.warnings).toEqual([]);
    const { renderPlan } = await import('../../../src/cluster/start.js');
    expect(renderPlan(planned.plan).match(/SSH_CIDR is 0\.0\.0\.0\/0/g)).toHaveLength(1);
    expect(io.messages.filter((m) => m.code === 'SC_START_W0001')).toHaveLength(1); // none from the plans
    await leaks(name);
  }, 300_000);
});
