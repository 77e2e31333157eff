import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEngineState } from '../../../src/deploy/index.js';
import { clusterStateDir } from '../../../src/paths.js';
import { readPrivateKey, waitForSsh } from '../../../src/remote/index.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { fleetEnv, fleetUnavailable, ROOT, runCli, type CliRun, type FleetEnv } from './fleet-env.js';

/**
 * What StarCluster users did to keep their software stack: set a node up by hand, `ebsimage` it,
 * and start the next cluster from that AMI. On the fleet's Debian 12 image, as a user runs it:
 * start a 1-node cluster, put a file in /opt and install jq with apt (through the fleet's package
 * proxy), `ebsimage` the master (EC2 reboots it first: the disk stays, its processes start again),
 * then start a second cluster with NODE_IMAGE_ID = the new AMI: its master has the file and jq.
 * `terminate` and `removeimage` leave nothing: no instances, no image, no snapshot, no fleet layer.
 */
const exec = promisify(execFile);
const skip = fleetUnavailable();
const FIRST = `ea${process.pid}`;
const SECOND = `eb${process.pid}`;
const MARKER = `/opt/sc-ebsimage/installed-by-hand`;
const TOKEN = `made on ${FIRST} ${Date.now()}`;

describe.skipIf(skip)(
  `ebsimage of a Debian 12 node, and a cluster of that image${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let env: FleetEnv;
    const configs: Record<string, string> = {};
    let imageId = '';

    const cli = (args: string[], config: string, timeoutMs?: number): Promise<CliRun> =>
      runCli(env, args, config, timeoutMs);

    function ok(r: CliRun, what: string): void {
      expect(r.code, `${what} failed:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`).toBe(0);
    }

    /** Runs `command` as root on a cluster's master, over a fresh connection (a reboot ends old ones). */
    async function onMaster(cluster: string, command: string): Promise<{ code: number; stdout: string }> {
      const state = await readEngineState(clusterStateDir(cluster));
      const ssh = await waitForSsh(
        {
          alias: 'master',
          address: state!.addresses!.master!,
          user: 'root',
          privateKey: await readPrivateKey(env.keyPath),
          knownHostsFile: join(clusterStateDir(cluster), 'known_hosts'),
        },
        { timeoutMs: 180_000 },
      );
      try {
        const r = await ssh.exec(command, { timeoutMs: 300_000 });
        return { code: r.code ?? -1, stdout: r.stdout };
      } finally {
        ssh.close();
      }
    }

    async function fleetLayers(): Promise<string[]> {
      const { stdout } = await exec(join(ROOT, 'localstack', 'fleet'), ['layers'], { env: process.env });
      return stdout
        .split('\n')
        .map((l) => l.split(/\s+/)[0] ?? '')
        .filter((id) => id.startsWith('ami-'));
    }

    beforeAll(async () => {
      env = await fleetEnv();
      await exec(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 900_000 });
      const settings = { CLUSTER_SIZE: '1', SHARED_FS: 'none', ENGINES_PER_NODE: '1' };
      configs[FIRST] = (await env.configFor(FIRST, { ...settings, NODE_IMAGE_ID: 'debian-12' })).path;
    }, 1_200_000);

    afterAll(async () => {
      if (!env) return;
      for (const [name, config] of Object.entries(configs)) await cli(['terminate', '-c', name], config, 300_000);
      if (imageId) await cli(['removeimage', '-c', imageId], configs[FIRST]!, 120_000);
    }, 700_000);

    it('start a 1-node Debian 12 cluster and install things by hand: a file in /opt, jq with apt', async () => {
      ok(await cli(['start', FIRST], configs[FIRST]!), 'start');
      const installed = await onMaster(
        FIRST,
        `set -e; mkdir -p ${MARKER.replace(/\/[^/]+$/, '')}; echo '${TOKEN}' > ${MARKER}
       export DEBIAN_FRONTEND=noninteractive; apt-get -q update >/dev/null; apt-get -q -y install jq >/dev/null
       echo '{"a": 42}' | jq .a`,
      );
      expect(installed, 'jq installed through the package proxy').toMatchObject({ code: 0, stdout: '42\n' });
    }, 1_200_000);

    it('ebsimage MASTER NAME: the fleet reboots the node, images its disk, and the AMI is available', async () => {
      const before = await onMaster(FIRST, 'ps -o lstart= -p 1');
      const [master] = await env.hosts(FIRST);
      expect(master, `a fleet host for ${FIRST}`).toBeDefined();
      const r = await cli(['ebsimage', master!.id, `stack-${FIRST}`, '--json'], configs[FIRST]!);
      ok(r, 'ebsimage');
      const result = JSON.parse(r.stdout) as { imageId: string; state: string; cluster?: string };
      imageId = result.imageId;
      expect(result).toMatchObject({ state: 'available', cluster: FIRST });
      expect(await fleetLayers(), 'the fleet keeps the snapshot as a layer').toContain(imageId);
      // EC2 reboots the instance for a consistent disk (no --no-reboot): a new pid 1, the disk as it was.
      const after = await onMaster(FIRST, `ps -o lstart= -p 1; cat ${MARKER}`);
      expect(after.stdout.split('\n')[1], 'the disk survives the reboot').toBe(TOKEN);
      expect(after.stdout.split('\n')[0], 'the node was rebooted').not.toBe(before.stdout.trim());
    }, 900_000);

    it('a cluster started from the new AMI has what was installed on the original node', async () => {
      configs[SECOND] = (
        await env.configFor(SECOND, {
          CLUSTER_SIZE: '1',
          SHARED_FS: 'none',
          ENGINES_PER_NODE: '1',
          NODE_IMAGE_ID: imageId,
        })
      ).path;
      ok(await cli(['start', SECOND], configs[SECOND]!), 'start from the new AMI');
      const state = await readEngineState(clusterStateDir(SECOND));
      expect(state?.engines).toEqual({ master: 1 });
      const seen = await onMaster(
        SECOND,
        `cat ${MARKER}; dpkg-query -W -f='\${Status}\\n' jq; echo '{"b": [1, 2]}' | jq -c .b; hostname`,
      );
      expect(seen.stdout.split('\n').slice(0, 4)).toEqual([TOKEN, 'install ok installed', '[1,2]', 'master']);
    }, 1_200_000);

    it('terminate and removeimage leave no instance, image, snapshot or fleet layer', async () => {
      for (const name of [FIRST, SECOND])
        ok(await cli(['terminate', '-c', name], configs[name]!, 300_000), `terminate ${name}`);
      ok(await cli(['removeimage', '-c', imageId], configs[FIRST]!, 120_000), 'removeimage');
      for (const name of [FIRST, SECOND]) {
        const report = await checkZeroLeak(name, { endpoint: env.endpoint, fleet: true });
        expect(report.fleetChecked).toBe(true);
        expect(leakCount(report), describeLeaks(report)).toBe(0);
      }
      const images = await env.api.describeImages({
        owners: ['self'],
        filters: [{ Name: 'tag:starcluster:image-cluster', Values: [FIRST] }],
      });
      expect(images.map((i) => i.ImageId)).toEqual([]);
      const snapshots = await env.api.describeSnapshots({
        owners: ['self'],
        filters: [{ Name: 'description', Values: [`*${imageId}*`] }],
      });
      expect(snapshots.map((s) => s.SnapshotId)).toEqual([]);
      // The fleet drops a layer once its AMI is gone and no host boots from it (its next round).
      for (let i = 0; i < 120 && (await fleetLayers()).includes(imageId); i++) await sleep(500);
      expect(await fleetLayers()).not.toContain(imageId);
      imageId = '';
    }, 900_000);
  },
);
