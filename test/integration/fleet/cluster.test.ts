import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeCluster } from '../../../src/cluster/resize.js';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { StarclusterError } from '../../../src/errors.js';
import { readPrivateKey, SshPool, waitForSsh } from '../../../src/remote/index.js';
import type { RemoteHost } from '../../../src/remote/types.js';
import { findNode, openRunningCluster } from '../../../src/setup/access.js';
import { setupAddedNodes, teardownNodes } from '../../../src/setup/index.js';
import { knownHostsFile } from '../../../src/setup/session.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { fleetEnv, fleetUnavailable, type FleetEnv } from './fleet-env.js';

// The real thing end to end: LocalStack records the instances, the fleet turns each into a host
// with its own sshd, and start/resize/terminate run our setup over SSH against them.
const skip = fleetUnavailable();
const NAME = `fl${process.pid}`;

describe.skipIf(skip)(
  `a 3-node cluster in the fleet with SHARED_FS = sshfs${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let env: FleetEnv;
    let config: StarclusterConfig;
    let template: ClusterTemplate;
    let pool: SshPool | undefined;
    const io = new RecordingIoHost();

    /** The cluster user on a node, logged in with the EC2 key (as `sshmaster -u sgeadmin` does). */
    async function asUser(alias: string, user = 'sgeadmin'): Promise<RemoteHost> {
      const ctx = await openRunningCluster({ name: NAME, io, configPath: env.home + `/config-${NAME}` });
      const node = findNode(ctx, alias);
      pool ??= new SshPool({ privateKey: await readPrivateKey(env.keyPath), knownHostsFile: knownHostsFile(ctx) });
      return pool.host({ alias, address: node.privateIp!, user });
    }

    async function untilHosts(count: number): Promise<void> {
      for (let i = 0; i < 120; i++) {
        if ((await env.hosts(NAME)).length === count) return;
        await sleep(500);
      }
      throw new Error(`the fleet did not reach ${count} hosts for ${NAME}: ${JSON.stringify(await env.hosts(NAME))}`);
    }

    async function checkCluster(workers: string[]): Promise<void> {
      const master = await asUser('master');
      for (const node of workers) {
        // BatchMode: a password or host-key prompt fails instead of waiting.
        const hop = await master.exec(`ssh -o BatchMode=yes ${node} hostname`, { timeoutMs: 30_000 });
        expect(hop, `ssh ${node} hostname from the master`).toMatchObject({ code: 0, stdout: `${node}\n` });
        const token = `written on master for ${node} ${Date.now()}`;
        await master.exec(`echo '${token}' > ~/shared-${node}.txt`);
        const read = await (await asUser(node)).exec(`cat ~/shared-${node}.txt`);
        expect(read.stdout.trim(), `master's /home seen on ${node}`).toBe(token);
      }
    }

    beforeAll(async () => {
      env = await fleetEnv();
      ({ config, template } = await env.configFor(NAME));
    }, 600_000);

    afterAll(async () => {
      pool?.close();
      if (env) await terminateCluster({ name: NAME, config, io, confirm: true }).catch(() => undefined);
    }, 300_000);

    it('starts: master and 2 nodes, set up over SSH', async () => {
      const result = await startCluster({ name: NAME, config, template, io, skipEngines: true });
      expect(result.nodes.map((n) => n.alias)).toEqual(['master', 'node001', 'node002']);
      await untilHosts(3);
      await checkCluster(['node001', 'node002']);
      // Each node knows the others by name, and its own hostname is set.
      const hosts = await (await asUser('node001', 'root')).exec('hostname; getent hosts master node002 | wc -l');
      expect(hosts.stdout).toBe('node001\n2\n');
    }, 300_000);

    it('resizes to 5 and back to 2, staying healthy', async () => {
      // resize's own hooks also start engines, which this test does not run: the cloud side is
      // the real resize (skipHooks), the node side our setupAddedNodes/teardownNodes, as resize calls them.
      const grown = await resizeCluster({ name: NAME, config, io, size: 5, confirm: true, skipHooks: true });
      expect(grown.nodes.map((n) => n.alias)).toEqual(['master', 'node001', 'node002', 'node003', 'node004']);
      let ctx = await openRunningCluster({ name: NAME, io, configPath: `${env.home}/config-${NAME}` });
      const added = ctx.nodes.filter((n) => ['node003', 'node004'].includes(n.alias));
      await setupAddedNodes(ctx, added);
      await untilHosts(5);
      await checkCluster(['node001', 'node003', 'node004']);

      ctx = await openRunningCluster({ name: NAME, io, configPath: `${env.home}/config-${NAME}` });
      const removed = ctx.nodes.filter((n) => ['node002', 'node003', 'node004'].includes(n.alias));
      await teardownNodes(ctx, removed);
      const shrunk = await resizeCluster({ name: NAME, config, io, size: 2, confirm: true, skipHooks: true });
      expect(shrunk.nodes.map((n) => n.alias)).toEqual(['master', 'node001']);
      await untilHosts(2);
      await checkCluster(['node001']);
      // Removed nodes are gone from every /etc/hosts.
      const left = await (await asUser('master', 'root')).exec('grep -c node00 /etc/hosts');
      expect(left.stdout.trim()).toBe('1');
    }, 600_000);

    it('times out with a clear message on a fleet address where no sshd answers', async () => {
      const error = await waitForSsh(
        {
          alias: 'node099',
          address: '198.18.15.250',
          user: 'root',
          privateKey: await readPrivateKey(env.keyPath),
          knownHostsFile: `${env.home}/kh`,
        },
        { timeoutMs: 4_000 },
      ).catch((e: unknown) => e);
      expect(StarclusterError.is(error) && error.code).toBe('SshTimeout');
      expect((error as Error).message).toMatch(
        /^node099 \(198\.18\.15\.250:22\) did not accept ssh within 4s after \d+ attempts; last error: /,
      );
    }, 60_000);

    it('terminates: the fleet removes every host', async () => {
      await terminateCluster({ name: NAME, config, io, confirm: true });
      await untilHosts(0);
    }, 300_000);
  },
);
