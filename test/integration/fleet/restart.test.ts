import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshConnection } from '../../../src/remote/index.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { fleetEnv, fleetUnavailable, ROOT, runCli, type CliRun, type FleetEnv } from './fleet-env.js';

// `starcluster restart NAME` for real: the fleet reboots a host on RebootInstances as EC2 does (every
// process ends; disk, address and host keys stay), then restart sets the nodes up again and starts
// the engines, and a job runs on them.
const skip = fleetUnavailable();
const NAME = `rs${process.pid}`;

describe.skipIf(skip)(`restart reboots a 2-node cluster on the fleet${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  let configPath: string;
  const logins: SshConnection[] = [];

  const cli = (args: string[], timeoutMs?: number): Promise<CliRun> => runCli(env, args, configPath, timeoutMs);

  function ok(r: CliRun, what: string): void {
    expect(r.code, `${what} failed:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`).toBe(0);
  }

  /** Each node's boot: when its pid 1 started, and whether a process started before is still there. */
  async function boots(): Promise<string[]> {
    const out: string[] = [];
    for (const host of await env.hosts(NAME)) {
      const root = await env.login(host, 'root', 'restart-known-hosts');
      logins.push(root);
      const r = await root.exec('cut -d" " -f22 /proc/1/stat; pgrep -a -x sleep | grep -q 100001 && echo marker');
      out.push(r.stdout.trim());
      root.close();
    }
    return out;
  }

  beforeAll(async () => {
    env = await fleetEnv();
    configPath = (await env.configFor(NAME, { CLUSTER_SIZE: '2', ENGINES_PER_NODE: '1' })).path;
  }, 600_000);

  afterAll(async () => {
    for (const c of logins) c.close();
    if (env && configPath) await cli(['terminate', '-c', '-f', NAME], 300_000).catch(() => undefined);
  }, 300_000);

  it('start, restart: every node rebooted, set up again, engines back (pi on 2 engines); terminate: 0 leaked', async () => {
    ok(await cli(['start', NAME]), 'start');
    for (const host of await env.hosts(NAME)) {
      const root = await env.login(host, 'root', 'restart-known-hosts');
      logins.push(root);
      await root.exec('setsid sleep 100001 </dev/null >/dev/null 2>&1 &');
    }
    const before = await boots();
    expect(before.every((b) => b.endsWith('marker'))).toBe(true);
    ok(await cli(['restart', NAME]), 'restart');
    const after = await boots();
    expect(after).toHaveLength(2);
    for (const [i, boot] of after.entries()) {
      expect(boot, 'a new boot: pid 1 started again, the marker process gone').not.toContain('marker');
      expect(boot).not.toBe(before[i]!.split('\n')[0]);
    }
    const r = await cli(['run', join(ROOT, 'jobs/pi.ts'), '-c', NAME, '--param', 'samples=20000000', '--json']);
    ok(r, 'run pi after restart');
    const out = JSON.parse(r.stdout) as { engines: number; result: { samples: number } };
    expect(out.engines).toBe(2);
    expect(out.result.samples).toBe(20_000_000);
    ok(await cli(['terminate', '-c', NAME], 300_000), 'terminate');
    const report = await checkZeroLeak(NAME, { endpoint: env.endpoint, fleet: true });
    console.log(`restart: resources leaked after terminate: ${leakCount(report)}`);
    expect(leakCount(report), describeLeaks(report)).toBe(0);
  }, 1_500_000);
});
