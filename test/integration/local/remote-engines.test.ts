import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRecord, Provider } from '../../../src/cloud/provider.js';
import type { ClusterContext } from '../../../src/model/context.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { defaultTemplate } from '../../../src/model/template.js';
import { listRunningClusters, readEngineState, startEngines, stopEngines } from '../../../src/deploy/index.js';
import { runJob } from '../../../src/jobs/index.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

/**
 * The ec2 path of the engine runtime (upload over SFTP, a supervisor per node, the controller on the
 * master's private IP, the client through an SSH tunnel) against a real sshd of our own on
 * 127.0.0.2 and 127.0.0.3, standing in for a master and a node. The provider is a stub that only
 * says "ec2, nodes are machines" (nothing here talks to EC2); everything after that is real: ssh2, SFTP, processes,
 * CURVE sockets. Skipped where there is no sshd or we are not root (sshd needs both).
 */
const sshd = '/usr/sbin/sshd';
const canRun = existsSync(sshd) && process.getuid?.() === 0;
const run = promisify(execFile);

const scratch = await mkdtemp(join(tmpdir(), 'sc-remote-'));
const home = join(scratch, 'home');
const remoteRoot = join(scratch, 'remote-root');
process.env.STARCLUSTER_HOME = home;
process.env.STARCLUSTER_REMOTE_ROOT = remoteRoot;
const job = join(import.meta.dirname, '../../_fixtures/jobs/squares.ts');
let daemon: ChildProcess | undefined;

const node = (alias: string, ip: string): NodeRecord => ({
  id: `i-${alias}`,
  cluster: 'far',
  alias,
  role: alias === 'master' ? 'master' : 'node',
  state: 'running',
  instanceType: 't3.micro',
  privateIp: ip,
  tags: {},
});

function template(keyPath: string): ClusterTemplate {
  return defaultTemplate({
    name: 'far',
    provider: 'ec2',
    key: { name: 'test', location: keyPath },
    clusterSize: 2,
    sharedFs: 'none',
    enginesPerNode: 1,
    // These "nodes" are this machine, where no node setup made a cluster user: run as the login user.
    clusterUser: 'root',
  });
}

let ctx: ClusterContext;

beforeAll(async () => {
  if (!canRun) return;
  const dir = join(scratch, 'sshd');
  await mkdir(dir, { recursive: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')));
  await chmod(join(dir, 'authorized_keys'), 0o600);
  await writeFile(
    join(dir, 'sshd_config'),
    [
      'Port 22',
      'ListenAddress 127.0.0.2',
      'ListenAddress 127.0.0.3',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      'AllowTcpForwarding yes',
      'MaxSessions 20',
      '',
    ].join('\n'),
  );
  await mkdir('/run/sshd', { recursive: true });
  daemon = spawn(sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  // Wait until it accepts connections.
  for (let i = 0; i < 100; i++) {
    const ok = await run('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.2/22 && exec 3<>/dev/tcp/127.0.0.3/22']).then(
      () => true,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Only that its nodes are machines (reached over SSH) matters to deploy; nothing here may reach EC2.
  const provider = { kind: 'ec2', nodesAreMachines: true } as Provider;
  ctx = {
    name: 'far',
    template: template(join(dir, 'user_key')),
    config: { keys: new Map(), clusters: new Map() } as unknown as StarclusterConfig,
    provider,
    io: new RecordingIoHost(),
    stateDir: join(home, 'clusters', 'far'),
    nodes: [node('master', '127.0.0.2'), node('node001', '127.0.0.3')],
  };
  await mkdir(ctx.stateDir, { recursive: true });
});

afterAll(async () => {
  if (ctx) await stopEngines(ctx).catch(() => undefined);
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!canRun)('engines on an ec2-style cluster (over SSH)', () => {
  it(
    'uploads the runtime, starts controller and engines, and runs a job through the tunnel',
    { timeout: 180_000 },
    async () => {
      await startEngines(ctx);
      const state = await readEngineState(ctx.stateDir);
      expect(state).toMatchObject({ provider: 'ec2', host: '127.0.0.2', engines: { master: 1, node001: 1 } });
      expect(await listRunningClusters()).toEqual(['far']);

      const result = await runJob({ file: job, target: {}, params: { n: '3000' }, io: new RecordingIoHost() });
      expect(result).toMatchObject({ cluster: 'far', engines: 2, tasks: 8 });
      expect(result.result).toMatchObject({ sum: (2999 * 3000 * 5999) / 6, exact: true });

      // Idempotent: a second start finds the runtime uploaded and the supervisors running.
      await startEngines(ctx);
      const again = await runJob({
        file: job,
        target: { cluster: 'far' },
        params: { n: '10' },
        io: new RecordingIoHost(),
      });
      expect(again.engines).toBe(2);
    },
  );

  it('stops every supervised process on stopEngines', async () => {
    await stopEngines(ctx);
    expect(await readEngineState(ctx.stateDir)).toBeUndefined();
    const { stdout } = await run('bash', ['-c', "pgrep -f -- '[-]-sc-node=far/' || true"]);
    expect(stdout.trim()).toBe('');
  });
});
