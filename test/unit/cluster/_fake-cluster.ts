import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ec2Provider } from '../../../src/cloud/ec2/provider.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { defaultTemplate, emptyConfig } from '../../../src/model/template.js';
import { addNodes, removeNodes, resizeCluster } from '../../../src/cluster/resize.js';
import { stopCluster } from '../../../src/cluster/lifecycle.js';
import { startCluster, type StartOptions } from '../../../src/cluster/start.js';
import { terminateCluster, type TerminateOptions } from '../../../src/cluster/terminate.js';
import { FakeEc2, type FakeEc2Options } from '../../_helpers/fake-ec2/index.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

/** The image the templates launch unless told otherwise: the fake's Debian 12 (x86_64). */
export const IMAGE = 'ami-0d0000000000000a1';
export const KEY = 'sc-unit';

/**
 * A cluster's world on the fake EC2: the fake, our real Ec2Provider over it, a key pair made by the
 * fake and its private key in a 0600 file, and start/resize/terminate with node setup, engines and
 * hooks skipped (their own options): the cloud side of each operation, in milliseconds, no SSH.
 */
export class FakeCluster {
  readonly io = new RecordingIoHost();
  private constructor(
    readonly fake: FakeEc2,
    readonly provider: Ec2Provider,
    readonly dir: string,
    readonly keyFile: string,
  ) {}

  static async create(options: FakeEc2Options = {}): Promise<FakeCluster> {
    const fake = new FakeEc2(options);
    const dir = await mkdtemp(join(tmpdir(), 'sc-fake-ec2-'));
    const keyFile = join(dir, 'key.pem');
    const pair = (await fake.send('CreateKeyPair', { KeyName: KEY })) as { KeyMaterial: string };
    await writeFile(keyFile, pair.KeyMaterial, { mode: 0o600 });
    return new FakeCluster(fake, fake.provider(), dir, keyFile);
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  config(): StarclusterConfig {
    const c = emptyConfig(join(this.dir, 'config'));
    c.keys.set(KEY, { name: KEY, location: this.keyFile });
    return c;
  }

  template(over: Partial<ClusterTemplate> = {}): ClusterTemplate {
    return defaultTemplate({
      name: 'unit',
      provider: 'ec2',
      keyname: KEY,
      key: { name: KEY, location: this.keyFile },
      clusterSize: 3,
      nodeImageId: IMAGE,
      nodeInstanceType: 't3.micro',
      sshCidr: '198.51.100.0/24',
      ...over,
    });
  }

  start(name: string, over: Partial<ClusterTemplate> = {}, extra: Partial<StartOptions> = {}) {
    return startCluster({
      name,
      template: this.template(over),
      config: this.config(),
      io: this.io,
      provider: this.provider,
      skipSetup: true,
      skipEngines: true,
      stateDir: join(this.dir, 'state', name),
      ...extra,
    });
  }

  /** What every cluster command here gets: the config, the recording host, the provider; no questions, no hooks. */
  private common() {
    return { config: this.config(), io: this.io, provider: this.provider, confirm: true, skipHooks: true };
  }

  terminate(name: string, extra: Partial<TerminateOptions> = {}) {
    return terminateCluster({ name, ...this.common(), ...extra });
  }

  stop(name: string, extra: Partial<Parameters<typeof stopCluster>[0]> = {}) {
    return stopCluster({ name, ...this.common(), ...extra });
  }

  resize(name: string, size: number, signal?: AbortSignal) {
    return resizeCluster({
      name,
      size,
      ...this.common(),
      stateDir: join(this.dir, 'state', name),
      ...(signal ? { signal } : {}),
    });
  }

  addNodes(name: string, extra: Partial<Parameters<typeof addNodes>[0]> = {}) {
    return addNodes({ name, ...this.common(), ...extra });
  }

  removeNodes(name: string, extra: Partial<Parameters<typeof removeNodes>[0]> = {}) {
    return removeNodes({ name, ...this.common(), ...extra });
  }

  /**
   * `alias:state` of the cluster's instances that nothing has asked to terminate, sorted, from the
   * fake's store (shutting-down ones are on their way: TerminateInstances was called).
   */
  aliases(name: string): string[] {
    return this.fake
      .liveInstances(name)
      .filter((i) => i.state !== 'shutting-down')
      .map((i) => `${i.tags['starcluster:alias'] ?? '?'}:${i.state}`)
      .sort();
  }
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function failureOf(p: Promise<unknown>): Promise<Error & { code?: string; details?: string[] }> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Error)) throw new Error(`expected a failure, got ${String(outcome)}`);
  return outcome;
}
