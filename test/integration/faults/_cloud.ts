/**
 * Shared set-up for the fault and security tests that need LocalStack: its endpoint (started with
 * localstack/start.sh, which is idempotent), a throwaway config with its own key pair, and the
 * library's EC2 provider pointed at LocalStack or at a fault proxy in front of it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { createProvider } from '../../../src/cloud/index.js';
import type { Provider } from '../../../src/cloud/provider.js';
import { startCluster, type StartOptions, type StartResult } from '../../../src/cluster/start.js';
import { terminateCluster, type TerminateResult } from '../../../src/cluster/terminate.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** An AMI LocalStack 2026.3 knows (ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20170727). */
export const LOCALSTACK_AMI = 'ami-1e749f67';

let endpointPromise: Promise<string> | undefined;

/**
 * LocalStack's endpoint: `$AWS_ENDPOINT_URL` (the integration project's setup file sets it), else
 * localstack/start.sh's last line.
 */
export function localstackEndpoint(): Promise<string> {
  endpointPromise ??= (async () => {
    if (process.env.AWS_ENDPOINT_URL?.startsWith('http://127.0.0.1:')) return process.env.AWS_ENDPOINT_URL;
    const { stdout } = await run(join(ROOT, 'localstack/start.sh'), [], { timeout: 300_000, maxBuffer: 1 << 24 });
    const last = stdout.trim().split('\n').pop() ?? '';
    if (!/^https?:\/\//.test(last)) throw new Error(`localstack/start.sh printed no endpoint (last line: ${last})`);
    return last;
  })();
  return endpointPromise;
}

export interface Ec2Fixture {
  dir: string;
  configPath: string;
  config: StarclusterConfig;
  template: ClusterTemplate;
  keyName: string;
  keyFile: string;
  endpoint: string;
  /** Environment pointing the CLI / library at LocalStack. */
  env: NodeJS.ProcessEnv;
  /**
   * An EC2 provider at `endpoint` (or another URL, e.g. a fault proxy), with short waits;
   * `maxAttempts` overrides the SDK's attempts per call (default: the library's).
   */
  provider(url?: string, maxAttempts?: number): Promise<Provider>;
  /**
   * `start` of the fixture's template (or `opts.template`) on EC2 alone: no setup, no engines, its
   * state under the fixture's folder; the provider defaults to LocalStack's.
   */
  start(name: string, opts?: Partial<Omit<StartOptions, 'name'>>): Promise<StartResult>;
  /** `terminate -c` without shutdown hooks (nothing was set up); the provider defaults to LocalStack's. */
  terminate(name: string, opts?: { io?: RecordingIoHost; provider?: Provider }): Promise<TerminateResult>;
  cleanup(): Promise<void>;
}

export interface FixtureOptions {
  /** Extra lines for the [cluster NAME] section. */
  clusterLines?: string[];
  /** Extra sections appended to the file. */
  extra?: string;
  size?: number;
  templateName?: string;
  /** [aws info] secret (default `test`). */
  secret?: string;
}

/** A temp dir with a config for LocalStack and a fresh key pair (created through the library). */
export async function ec2Fixture(endpoint: string, opts: FixtureOptions = {}): Promise<Ec2Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-faults-'));
  const keyName = `sctest-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
  const keyFile = join(dir, `${keyName}.rsa`);
  const templateName = opts.templateName ?? 'faulty';
  const configPath = join(dir, 'config');
  writeFileSync(
    configPath,
    [
      '[global]',
      `DEFAULT_TEMPLATE = ${templateName}`,
      '[aws info]',
      'AWS_ACCESS_KEY_ID = test',
      `AWS_SECRET_ACCESS_KEY = ${opts.secret ?? 'test'}`,
      'AWS_REGION_NAME = us-east-1',
      `[key ${keyName}]`,
      `KEY_LOCATION = ${keyFile}`,
      `[cluster ${templateName}]`,
      'PROVIDER = ec2',
      `KEYNAME = ${keyName}`,
      `CLUSTER_SIZE = ${opts.size ?? 3}`,
      `NODE_IMAGE_ID = ${LOCALSTACK_AMI}`,
      'NODE_INSTANCE_TYPE = t3.micro',
      'SSH_CIDR = 203.0.113.0/24',
      ...(opts.clusterLines ?? []),
      opts.extra ?? '',
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    STARCLUSTER_HOME: join(dir, 'home'),
    STARCLUSTER_CONFIG: configPath,
  };
  const config = await loadConfig({ path: configPath, env });
  const template = getClusterTemplate(config, templateName);
  const makeProvider = (url = endpoint, maxAttempts?: number) =>
    createProvider(template, config, {
      env: { ...env, AWS_ENDPOINT_URL: url },
      ...(maxAttempts
        ? {
            ec2: {
              region: 'us-east-1',
              endpoint: url,
              credentials: { accessKeyId: 'test', secretAccessKey: opts.secret ?? 'test' },
              maxAttempts,
            },
          }
        : {}),
      // Short waits: LocalStack answers at once; a stuck wait should fail the test, not hang it.
      ec2Options: { waitTimeoutSeconds: 120, sgDeleteDelaysMs: [250, 500, 1000, 2000, 4000, 8000] },
    });
  await (await makeProvider()).account().createKey({ name: keyName, outputFile: keyFile, io: new RecordingIoHost() });
  return {
    dir,
    configPath,
    config,
    template,
    keyName,
    keyFile,
    endpoint,
    env,
    provider: makeProvider,
    start: async (name, over = {}) =>
      startCluster({
        name,
        template,
        config,
        io: new RecordingIoHost(),
        skipSetup: true,
        skipEngines: true,
        stateDir: join(dir, `state-${name}`),
        ...over,
        provider: over.provider ?? (await makeProvider()),
      }),
    terminate: async (name, over = {}) =>
      terminateCluster({
        name,
        config,
        io: over.io ?? new RecordingIoHost(),
        provider: over.provider ?? (await makeProvider()),
        confirm: true,
        skipHooks: true,
      }),
    cleanup: async () => {
      await (
        await makeProvider()
      )
        .account()
        .removeKey(keyName)
        .catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster name unique to this run (tests share one LocalStack). */
export function clusterName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
