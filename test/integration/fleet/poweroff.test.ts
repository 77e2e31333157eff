import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshConnection } from '../../../src/remote/index.js';
import { boto3 } from '../../_helpers/localstack.js';
import { fleetEnv, fleetUnavailable, ROOT, type FleetEnv } from './fleet-env.js';

// A host that powers itself off does what an EC2 instance does (InstanceInitiatedShutdownBehavior:
// terminate or stop), a host that reboots comes back, and neither reaches this machine's own init:
// on the fast image (a view of this machine's /, its /dev and its systemctl) and on the stock one.
// How: localstack/fleet.d/host-pid1.sh (the host's pid 1 takes /run/initctl, where systemd's
// shutdown falls back to with no systemd) and fleet.py's power_events.
const run = promisify(execFile);
const skip = fleetUnavailable();
const TAG = 'poweroff';

interface Launched {
  id: string;
  ip: string;
}

/** This machine's pid 1: what it runs and when it started (field 22 of /proc/1/stat, in ticks since boot). */
async function machineInit(): Promise<{ comm: string; started: string }> {
  const stat = await readFile('/proc/1/stat', 'utf8');
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  return { comm, started };
}

describe.skipIf(skip)(
  `fleet hosts power off, halt and reboot as EC2 instances do${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let env: FleetEnv;
    let stockAmi: string;
    let machineBefore: { comm: string; started: string };
    const connections: SshConnection[] = [];

    async function launch(imageId: string, behaviour: 'terminate' | 'stop'): Promise<Launched> {
      const [instance] = await env.api.runInstances({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        KeyName: env.keyName,
        SubnetId: env.subnet,
        InstanceType: 't3.micro',
        InstanceInitiatedShutdownBehavior: behaviour,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'starcluster:test', Value: TAG }] }],
      });
      return { id: instance!.InstanceId!, ip: instance!.PrivateIpAddress! };
    }

    async function login(host: Launched, user: string): Promise<SshConnection> {
      const conn = await env.login(host, user, 'poweroff-known-hosts');
      connections.push(conn);
      if (user !== 'root') await conn.exec('cloud-init status --wait', { timeoutMs: 180_000 });
      return conn;
    }

    /** Runs a command that ends the host, and returns when the host has ended the session (its processes end). */
    async function ending(conn: SshConnection, command: string): Promise<void> {
      await conn.exec(`${command}; exec sleep 100000`, { timeoutMs: 120_000 }).catch(() => undefined);
    }

    async function state(id: string): Promise<string | undefined> {
      const [instance] = await env.api.describeInstances([], [id]);
      return instance?.State?.Name;
    }

    async function reconcilerLog(): Promise<string> {
      return readFile(join(ROOT, 'localstack', '.state', 'fleet', 'reconciler.log'), 'utf8');
    }

    beforeAll(async () => {
      env = await fleetEnv();
      machineBefore = await machineInit();
      await run(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 900_000 });
      stockAmi = await boto3<string>(
        `
ssm = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
out = ssm.get_parameter(Name='/aws/service/debian/release/12/latest/amd64')['Parameter']['Value']
`,
      );
    }, 900_000);

    afterAll(async () => {
      for (const c of connections) c.close();
      if (!env) return;
      const left = await env.api.describeInstances([
        { Name: 'tag:starcluster:test', Values: [TAG] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ]);
      await env.api.terminateInstances(left.map((i) => i.InstanceId!)).catch(() => undefined);
    }, 120_000);

    it('fast image, `shutdown -h now` as root: the instance is terminated (InstanceInitiatedShutdownBehavior=terminate)', async () => {
      const host = await launch(env.imageId, 'terminate');
      const root = await login(host, 'root');
      // Where the request goes: the host's own init FIFO (systemd's fallback), not this machine's.
      const seen = await root.exec('ls -l /run/initctl; readlink /proc/1/exe; cat /proc/1/cmdline | tr "\\0" " "');
      expect(seen.stdout).toMatch(/^p.* \/run\/initctl\n/);
      expect(seen.stdout).toContain('/run/fleet-host/pid1 fast');
      await ending(root, 'shutdown -h now');
      await env.api.waitInstances('terminated', [host.id], 120);
      expect(await state(host.id)).toBe('terminated');
      expect(await reconcilerLog()).toContain(
        `host ${host.id}: powered off from inside; InstanceInitiatedShutdownBehavior=terminate`,
      );
      expect(await machineInit()).toEqual(machineBefore);
    }, 300_000);

    it('fast image, `poweroff -f` (reboot(2) itself, no init asked): the instance is stopped (behaviour stop)', async () => {
      const host = await launch(env.imageId, 'stop');
      const root = await login(host, 'root');
      await ending(root, 'poweroff -f');
      await env.api.waitInstances('stopped', [host.id], 120);
      expect(await state(host.id)).toBe('stopped');
      expect(await machineInit()).toEqual(machineBefore);
    }, 300_000);

    it('stock image, `sudo shutdown -h now` as admin: terminated; `sudo halt` with behaviour stop: stopped', async () => {
      const [terminating, stopping] = await Promise.all([launch(stockAmi, 'terminate'), launch(stockAmi, 'stop')]);
      const [a, b] = await Promise.all([login(terminating, 'admin'), login(stopping, 'admin')]);
      await ending(a, 'sudo shutdown -h now');
      await ending(b, 'sudo halt');
      await env.api.waitInstances('terminated', [terminating.id], 120);
      await env.api.waitInstances('stopped', [stopping.id], 120);
      expect([await state(terminating.id), await state(stopping.id)]).toEqual(['terminated', 'stopped']);
      expect(await machineInit()).toEqual(machineBefore);
    }, 400_000);

    it('stock image, `sudo reboot`: every process ends, the disk and host keys stay, sshd answers again', async () => {
      const host = await launch(stockAmi, 'terminate');
      const admin = await login(host, 'admin');
      await admin.exec('echo kept > ~/before-reboot; setsid sleep 100000 </dev/null >/dev/null 2>&1 &');
      const bootBefore = (await admin.exec('cat /proc/1/stat')).stdout.split(' ')[21];
      await ending(admin, 'sudo reboot');
      // The session ended with the old boot's processes; log in again, with the host key pinned at
      // the first login (the same known_hosts file). An old sshd still finishing answers at most once.
      let after = await login(host, 'admin');
      if ((await after.exec('cat /proc/1/stat')).stdout.split(' ')[21] === bootBefore) {
        await ending(after, 'true');
        after = await login(host, 'admin');
      }
      expect((await after.exec('cat /proc/1/stat')).stdout.split(' ')[21]).not.toBe(bootBefore);
      const check = await after.exec('cat ~/before-reboot; pgrep -x sleep -a | grep -c 100000 || true');
      expect(check.stdout).toBe('kept\n0\n');
      expect(await state(host.id)).toBe('running');
      expect(await reconcilerLog()).toContain(`host ${host.id}: rebooted from inside`);
      expect(await machineInit()).toEqual(machineBefore);
    }, 400_000);

    it('RebootInstances (the API) on the fast image: every process ends, /root stays, sshd answers again', async () => {
      const host = await launch(env.imageId, 'terminate');
      const root = await login(host, 'root');
      await root.exec('echo kept > /root/before-reboot; setsid sleep 100000 </dev/null >/dev/null 2>&1 &');
      const bootBefore = (await root.exec('cat /proc/1/stat')).stdout.split(' ')[21];
      // The session ends when the host's processes do: the reboot has begun.
      const ended = ending(root, 'true');
      await env.api.rebootInstances([host.id]);
      await ended;
      const after = await login(host, 'root');
      expect((await after.exec('cat /proc/1/stat')).stdout.split(' ')[21]).not.toBe(bootBefore);
      const check = await after.exec('cat /root/before-reboot; pgrep -x sleep -a | grep -c 100000 || true');
      expect(check.stdout).toBe('kept\n0\n');
      expect(await state(host.id)).toBe('running');
      expect(await reconcilerLog()).toContain(`host ${host.id}: RebootInstances`);
      expect(await machineInit()).toEqual(machineBefore);
    }, 300_000);
  },
);
