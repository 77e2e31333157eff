import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import type { SshConnection } from '../../../src/remote/index.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { fleetEnv, fleetUnavailable, ROOT, runCli, type FleetEnv } from './fleet-env.js';

// MAX_LIFETIME and IDLE_SHUTDOWN for real: setup installs the check (src/setup/autostop.ts) on
// nodes launched with InstanceInitiatedShutdownBehavior = terminate; the check runs
// `shutdown -h now`; the fleet turns the host's poweroff into TerminateInstances, as EC2 does
// (localstack/fleet.d/host-pid1.sh, fleet.py power_events). Then `starcluster terminate NAME`
// removes what the cluster left, found by its tags. The settings are minutes; 1 is the least, and
// the check runs a minute after setup, then every minute. The tests wait for instance states and
// for the check's own marks, never for a guessed time. Engines are skipped: the check is setup's.
const skip = fleetUnavailable();
const LIFE = `ml${process.pid}`;
const IDLE = `id${process.pid}`;
const MARK = '/var/lib/starcluster/autostop/active';

describe.skipIf(skip)(`MAX_LIFETIME and IDLE_SHUTDOWN on the fleet${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  const paths: Record<string, string> = {};
  const ids: Record<string, string[]> = {};
  let held: SshConnection | undefined;

  async function running(name: string): Promise<{ id: string; ip: string }[]> {
    const instances = await env.api.describeInstances([
      { Name: 'tag:starcluster:cluster', Values: [name] },
      { Name: 'instance-state-name', Values: ['running'] },
    ]);
    return instances.map((i) => ({ id: i.InstanceId!, ip: i.PrivateIpAddress! }));
  }

  async function start(name: string, settings: Record<string, string>): Promise<void> {
    const { config, template, path } = await env.configFor(name, settings);
    paths[name] = path;
    await startCluster({ name, config, template, io: new RecordingIoHost(), skipEngines: true });
    ids[name] = (await running(name)).map((n) => n.id);
  }

  async function poweredOffFromInside(id: string): Promise<boolean> {
    const log = await readFile(join(ROOT, 'localstack', '.state', 'fleet', 'reconciler.log'), 'utf8');
    return log.includes(`host ${id}: powered off from inside; InstanceInitiatedShutdownBehavior=terminate`);
  }

  /** What the cluster leaves once its nodes are gone; `terminate NAME` removes it; 0 leaked after. */
  async function terminateLeftovers(name: string): Promise<void> {
    const left = await checkZeroLeak(name, { endpoint: env.endpoint, fleet: true });
    expect(left.instances, describeLeaks(left)).toEqual([]);
    expect(left.fleetHosts, describeLeaks(left)).toEqual([]);
    expect(left.securityGroups.map((g) => g.name)).toEqual([`@sc-${name}`]);
    const cli = await runCli(env, ['terminate', name, '--confirm'], paths[name]!);
    expect(cli.code, cli.stderr + cli.stdout).toBe(0);
    const after = await checkZeroLeak(name, { endpoint: env.endpoint, fleet: true });
    expect(after.fleetChecked).toBe(true);
    console.log(
      `${name}: left when its nodes were gone: ${left.securityGroups.map((g) => `security group ${g.name}`).join(', ')}; after terminate: resources leaked: ${leakCount(after)}`,
    );
    expect(leakCount(after), describeLeaks(after)).toBe(0);
  }

  beforeAll(async () => {
    env = await fleetEnv();
    // The idle cluster first, and an SSH session to its node as soon as it is up: a session keeps
    // a node busy, and the earliest the check can find it idle is two checks after setup.
    const idle = start(IDLE, { CLUSTER_SIZE: '1', IDLE_SHUTDOWN: '1' }).then(async () => {
      const [master] = await running(IDLE);
      held = await env.login(master!, 'root', 'autostop-known-hosts');
    });
    await Promise.all([idle, start(LIFE, { CLUSTER_SIZE: '2', MAX_LIFETIME: '1' })]);
  }, 900_000);

  afterAll(async () => {
    held?.close();
    if (!env) return;
    for (const name of [LIFE, IDLE])
      if (paths[name])
        await runCli(env, ['terminate', name, '--confirm', '--force'], paths[name]).catch(() => undefined);
  }, 600_000);

  it('MAX_LIFETIME = 1: both nodes power themselves off and are terminated; terminate NAME removes the rest, 0 leaked', async () => {
    const nodes = ids[LIFE]!;
    expect(nodes).toHaveLength(2);
    await env.api.waitInstances('terminated', nodes, 600);
    for (const id of nodes) expect(await poweredOffFromInside(id), `${id} powered itself off`).toBe(true);
    await terminateLeftovers(LIFE);
  }, 900_000);

  it('IDLE_SHUTDOWN = 1: an SSH session keeps the node; once it ends, the node powers off; terminate NAME, 0 leaked', async () => {
    const [id] = ids[IDLE]!;
    const mark = async (): Promise<string> =>
      (await held!.exec(`stat -c %Y ${MARK} 2>/dev/null || echo none`)).stdout.trim();
    // The first check marks the node active whatever it finds; a later mark is a check that found
    // it busy (our session: the node has no login, Slurm job or engines else).
    let first = await mark();
    while (first === 'none') {
      await sleep(2000);
      first = await mark();
    }
    while ((await mark()) === first) await sleep(2000);
    expect((await running(IDLE)).map((n) => n.id)).toEqual([id]);
    held!.close();
    held = undefined;
    await env.api.waitInstances('terminated', [id!], 600);
    expect(await poweredOffFromInside(id!), `${id} powered itself off`).toBe(true);
    await terminateLeftovers(IDLE);
  }, 900_000);
});
