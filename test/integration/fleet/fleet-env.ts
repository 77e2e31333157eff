import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ec2Api, ec2SettingsFromConfig } from '../../../src/cloud/ec2/index.js';
import { getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { readPrivateKey, waitForSsh, type SshConnection } from '../../../src/remote/index.js';
import { runCli as runCliProcess, type CliRun } from '../../_helpers/cli.js';

/**
 * The test fleet for integration tests and bench/start-time.ts: LocalStack (localstack/start.sh),
 * the fleet (localstack/fleet start), a fresh key pair imported into LocalStack, a throwaway
 * STARCLUSTER_HOME and a config whose cluster lives in the fleet's subnet. Needs root.
 */
const run = promisify(execFile);
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

export function fleetUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: the fleet makes network namespaces, a bridge and overlay mounts';
  for (const tool of ['/usr/sbin/sshd', '/usr/bin/sshfs', '/usr/sbin/ip']) {
    if (!existsSync(tool)) return `needs ${tool} (apt-get install openssh-server sshfs iproute2)`;
  }
  if (!existsSync(join(ROOT, 'localstack', 'start.sh'))) return 'needs localstack/start.sh';
  return false;
}

export interface FleetEnv {
  endpoint: string;
  subnet: string;
  home: string;
  keyName: string;
  keyPath: string;
  imageId: string;
  api: Ec2Api;
  /** Writes a config with `[cluster NAME]` in the fleet subnet, loads it and returns its template. */
  configFor(
    name: string,
    extra?: Record<string, string>,
  ): Promise<{ config: StarclusterConfig; template: ClusterTemplate; path: string }>;
  /** Instance ids and addresses of the fleet's hosts for a cluster (`localstack/fleet status`). */
  hosts(cluster: string): Promise<{ id: string; ip: string; state: string }[]>;
  /** SSH to an instance launched by hand with the fleet's key, once it answers; host keys pinned in `knownHosts` (a file in home). */
  login(host: { id: string; ip: string }, user: string, knownHosts: string): Promise<SshConnection>;
}

/** What a CLI run printed, and its exit code (-1: killed, e.g. by the timeout). */
export type { CliRun } from '../../_helpers/cli.js';

/** The CLI as a user runs it (`bin/dev.js ARGS --config FILE`), in the fleet's STARCLUSTER_HOME; never throws. */
export function runCli(env: FleetEnv, args: string[], config: string, timeoutMs = 900_000): Promise<CliRun> {
  return runCliProcess([...args, '--config', config], { cwd: env.home, timeoutMs });
}

let shared: Promise<FleetEnv> | undefined;

/** Starts (or reuses) LocalStack and the fleet; sets AWS_* and STARCLUSTER_HOME for this process. */
export function fleetEnv(): Promise<FleetEnv> {
  shared ??= makeFleetEnv();
  return shared;
}

async function makeFleetEnv(): Promise<FleetEnv> {
  const started = await run(join(ROOT, 'localstack', 'start.sh'), [], { timeout: 600_000, maxBuffer: 16 << 20 });
  const endpoint = started.stdout.trim().split('\n').at(-1) ?? '';
  if (!/^https?:\/\//.test(endpoint))
    throw new Error(`localstack/start.sh printed no endpoint: ${started.stdout}${started.stderr}`);
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.AWS_REGION ??= 'us-east-1';
  // The first start on a machine builds the fleet's stock images (minutes); later ones reuse the cache.
  const fleet = await run(join(ROOT, 'localstack', 'fleet'), ['start'], { env: process.env, timeout: 900_000 });
  const subnet = fleet.stdout.trim().split('\n').at(-1) ?? '';
  if (!subnet.startsWith('subnet-'))
    throw new Error(`localstack/fleet start printed no subnet: ${fleet.stdout}${fleet.stderr}`);

  const home = await mkdtemp(join(tmpdir(), 'sc-fleet-home-'));
  process.env.STARCLUSTER_HOME = home;
  const keyName = `fleet-${process.pid}-${Date.now().toString(36)}`;
  const keyPath = join(home, `${keyName}.pem`);
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-C', keyName, '-f', keyPath]);
  await chmod(keyPath, 0o600);
  const api = new Ec2Api(ec2SettingsFromConfig(undefined, process.env));
  await api.importKeyPair(keyName, (await readFile(`${keyPath}.pub`, 'utf8')).trim());
  // The fleet's fast image (a copy-on-write view of this machine), else any AMI: the fleet boots
  // every ImageId that is not one of its stock images that way.
  const images = await api.describeImages({});
  // x86_64, as the t3.micro nodes: start refuses an AMI of another architecture than the type's.
  const imageId = (
    images.find((i) => i.Name === 'starcluster-fleet-host') ??
    images.find((i) => i.ImageId && i.Architecture === 'x86_64')
  )?.ImageId;
  if (!imageId) throw new Error('LocalStack lists no AMIs');

  return {
    endpoint,
    subnet,
    home,
    keyName,
    keyPath,
    imageId,
    api,
    async configFor(name, extra = {}) {
      const path = join(home, `config-${name}`);
      const settings: Record<string, string> = {
        KEYNAME: keyName,
        CLUSTER_SIZE: '3',
        CLUSTER_USER: 'sgeadmin',
        NODE_IMAGE_ID: imageId,
        NODE_INSTANCE_TYPE: 't3.micro',
        SUBNET_ID: subnet,
        PUBLIC_IPS: 'False',
        SHARED_FS: 'sshfs',
        // The Slurm queue has its own test (queue.test.ts); the others start faster without it.
        DISABLE_QUEUE: 'True',
        ...extra,
      };
      const text = [
        '[global]',
        `DEFAULT_TEMPLATE = ${name}`,
        '',
        `[key ${keyName}]`,
        `KEY_LOCATION = ${keyPath}`,
        '',
        `[cluster ${name}]`,
        ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
        '',
      ].join('\n');
      await writeFile(path, text);
      const config = await loadConfig({ path, env: process.env });
      return { config, template: getClusterTemplate(config, name), path };
    },
    async login(host, user, knownHosts) {
      return waitForSsh(
        {
          alias: host.id,
          address: host.ip,
          user,
          privateKey: await readPrivateKey(keyPath),
          knownHostsFile: join(home, knownHosts),
        },
        { timeoutMs: 180_000 },
      );
    },
    async hosts(cluster) {
      const out = await run(join(ROOT, 'localstack', 'fleet'), ['status'], { env: process.env });
      return out.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((parts) => parts[0]?.startsWith('i-') && parts[1] === cluster)
        .map(([id, , ip, state]) => ({ id: id!, ip: ip!, state: state! }));
    },
  };
}
