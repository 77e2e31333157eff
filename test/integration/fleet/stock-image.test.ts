import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEngineState } from '../../../src/deploy/index.js';
import { clusterStateDir } from '../../../src/paths.js';
import { readPrivateKey, SshPool, waitForSsh, type SshConnection } from '../../../src/remote/index.js';
import type { RemoteHost } from '../../../src/remote/types.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { fleetEnv, fleetUnavailable, ROOT, runCli, type CliRun, type FleetEnv } from './fleet-env.js';

/**
 * What a user's first `start` on a stock AMI does, on the fleet's real Debian 12 image (its own
 * userland, cloud-init, login user `admin`, packages only through the fleet's caching proxy):
 * the nodes are the bare image (no Node.js, no sshfs), `start` installs what setup needs with apt,
 * brings Node.js for the engine runtime (uploaded once to the master, pulled by the other nodes),
 * shares /home over sshfs, and `run jobs/pi.ts` computes on engines on all three nodes; `terminate`
 * leaves nothing behind. Every step is the CLI as a user runs it.
 */
const exec = promisify(execFile);
const skip = fleetUnavailable();
const NAME = `si${process.pid}`;
const ALIASES = ['master', 'node001', 'node002'];

interface ProxyStats {
  fetched: number;
  served: number;
  fetchedDebs: number;
  servedDebs: number;
}

describe.skipIf(skip)(
  `a 3-node cluster on the stock Debian 12 image, SHARED_FS = sshfs${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let env: FleetEnv;
    let configPath: string;
    let pool: SshPool | undefined;
    const logins: SshConnection[] = [];
    let proxyBefore: ProxyStats;

    const cli = (args: string[], timeoutMs?: number): Promise<CliRun> => runCli(env, args, configPath, timeoutMs);

    function ok(r: CliRun, what: string): void {
      expect(r.code, `${what} failed:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`).toBe(0);
    }

    async function proxyStats(): Promise<ProxyStats> {
      const { stdout } = await exec(join(ROOT, 'localstack', 'fleet'), ['proxy-stats'], { env: process.env });
      return JSON.parse(stdout) as ProxyStats;
    }

    async function hostsOf(): Promise<{ id: string; ip: string }[]> {
      return (await env.hosts(NAME)).map(({ id, ip }) => ({ id, ip }));
    }

    async function untilHosts(count: number): Promise<{ id: string; ip: string }[]> {
      for (let i = 0; i < 240; i++) {
        const hosts = await hostsOf();
        if (hosts.length === count) return hosts;
        await sleep(500);
      }
      throw new Error(`the fleet did not reach ${count} hosts for ${NAME}: ${JSON.stringify(await hostsOf())}`);
    }

    /** A node by alias as `user`, through the cluster's pinned known_hosts. */
    async function node(alias: string, user: string): Promise<RemoteHost> {
      const state = await readEngineState(clusterStateDir(NAME));
      pool ??= new SshPool({
        privateKey: await readPrivateKey(env.keyPath),
        knownHostsFile: join(clusterStateDir(NAME), 'known_hosts'),
      });
      return pool.host({ alias, address: state!.addresses![alias]!, user });
    }

    beforeAll(async () => {
      env = await fleetEnv();
      await exec(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 900_000 });
      configPath = (
        await env.configFor(NAME, {
          NODE_IMAGE_ID: 'debian-12',
          CLUSTER_SIZE: '3',
          SHARED_FS: 'sshfs',
          PUBLIC_IPS: 'False',
          ENGINES_PER_NODE: '1',
        })
      ).path;
      proxyBefore = await proxyStats();
    }, 1_200_000);

    afterAll(async () => {
      pool?.close();
      for (const c of logins) c.close();
      if (env) await cli(['terminate', '-c', NAME], 300_000);
    }, 400_000);

    it('start -o launches bare Debian 12 nodes: login admin with sudo, no Node.js, no sshfs', async () => {
      ok(await cli(['start', '-o', NAME]), 'start -o');
      const hosts = await untilHosts(3);
      for (const host of hosts) {
        const admin = await waitForSsh(
          {
            alias: host.id,
            address: host.ip,
            user: 'admin',
            privateKey: await readPrivateKey(env.keyPath),
            knownHostsFile: join(env.home, `bare-${NAME}-known-hosts`),
          },
          { timeoutMs: 180_000 },
        );
        logins.push(admin);
        const probe = await admin.exec(
          '. /etc/os-release; echo "$ID $VERSION_ID"; command -v node || echo no-node; command -v sshfs || echo no-sshfs; sudo -n true && echo sudo-ok',
        );
        expect(probe.stdout.split('\n').slice(0, 4), `${host.id} is the bare image`).toEqual([
          'debian 12',
          'no-node',
          'no-sshfs',
          'sudo-ok',
        ]);
      }
    }, 900_000);

    it('start sets the nodes up: sshfs installed, Node.js brought, engines on all 3 nodes', async () => {
      const t0 = performance.now();
      ok(await cli(['start', NAME]), 'start (resume: setup and engines)');
      const seconds = (performance.now() - t0) / 1000;
      const proxy = await proxyStats();
      console.log(
        `stock Debian 12, 3 nodes: setup + engines ${seconds.toFixed(1)} s; package proxy: ${proxy.fetchedDebs - proxyBefore.fetchedDebs} .deb fetched upstream, ${proxy.servedDebs - proxyBefore.servedDebs} served`,
      );
      const state = (await readEngineState(clusterStateDir(NAME)))!;
      expect(state.engines).toEqual({ master: 1, node001: 1, node002: 1 });
      for (const alias of ALIASES) {
        // Our Node, not the image's (it has none): the path the engines run with.
        expect(state.node?.[alias], alias).toMatch(/^\/opt\/starcluster\/node\/v\d+\.\d+\.\d+-linux-x64\/bin\/node$/);
        const root = await node(alias, 'root');
        const seen = await root.exec(
          `(command -v sshfs >/dev/null && echo sshfs) || echo no-sshfs; ${state.node![alias]} -v; pgrep -af '[e]ngine.mjs' | cut -d' ' -f2`,
        );
        // Only the nodes that mount the master's /home need sshfs.
        expect(seen.stdout.trim().split('\n'), alias).toEqual([
          alias === 'master' ? 'no-sshfs' : 'sshfs',
          process.version,
          state.node![alias],
        ]);
      }
    }, 900_000);

    it('the cluster user has passwordless SSH between nodes and one /home (sshfs from the master)', async () => {
      const master = await node('master', 'sgeadmin');
      for (const alias of ['node001', 'node002']) {
        const hop = await master.exec(`ssh -o BatchMode=yes ${alias} hostname`, { timeoutMs: 30_000 });
        expect(hop, `ssh ${alias} hostname from the master`).toMatchObject({ code: 0, stdout: `${alias}\n` });
        const token = `written on master for ${alias} ${Date.now()}`;
        await master.exec(`echo '${token}' > ~/shared-${alias}.txt`);
        const read = await (
          await node(alias, 'sgeadmin')
        ).exec(`cat ~/shared-${alias}.txt; awk '$2=="/home" {print $3}' /proc/mounts`);
        expect(read.stdout.trim().split('\n'), `${alias} sees the master's /home`).toEqual([token, 'fuse.sshfs']);
      }
    }, 300_000);

    it('run jobs/pi.ts -c NAME computes on engines on all 3 nodes', async () => {
      const r = await cli(['run', join(ROOT, 'jobs/pi.ts'), '-c', NAME, '--param', 'samples=30000000', '--json']);
      ok(r, 'run pi');
      const out = JSON.parse(r.stdout) as {
        engines: number;
        result: { samples: number; pi: number; perEngine: { engine: number }[] };
      };
      expect(out.engines).toBe(3);
      expect(out.result.samples).toBe(30_000_000);
      expect(Math.abs(out.result.pi - Math.PI)).toBeLessThan(0.01);
      // One engine per node (ENGINES_PER_NODE = 1), and every engine computed.
      expect(new Set(out.result.perEngine.map((e) => e.engine)).size).toBe(3);
    }, 600_000);

    it('terminate leaves 0 resources and 0 fleet hosts', async () => {
      ok(await cli(['terminate', '-c', NAME], 300_000), 'terminate');
      await untilHosts(0);
      const report = await checkZeroLeak(NAME, { endpoint: env.endpoint, fleet: true });
      expect(report.fleetChecked).toBe(true);
      expect(leakCount(report), describeLeaks(report)).toBe(0);
    }, 400_000);
  },
);
