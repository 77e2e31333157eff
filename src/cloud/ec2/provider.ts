import type { Instance } from '@aws-sdk/client-ec2';
import type { ClusterTemplate } from '../../config/types.js';
import { CloudError, StarclusterError, throwIfAborted } from '../../errors.js';
import type { NodeRecord } from '../../model/node.js';
import { TAG_ALIAS, TAG_CLUSTER, TAG_DESCRIPTION, TAG_NAME, TAG_RUN, TAG_TEMPLATE } from '../../model/tags.js';
import { systemClock, type Clock } from '../../clock.js';
import type { Account } from '../account.js';
import type {
  ClusterRecord,
  ImageCheckOptions,
  ImageRequest,
  ImageResolution,
  LaunchCount,
  LaunchProblem,
  LaunchShape,
  LaunchSpec,
  NodePower,
  NodeVolumes,
  PriceQuote,
  SpotPricePoint,
  QuotaCheck,
  Provider,
  TemplateCheckOptions,
} from '../provider.js';
import { Ec2Account } from './account.js';
import { Ec2Api } from './api.js';
import { fromTags, isCode } from './errors.js';
import { ec2ImageCatalog } from './catalog.js';
import { resolveImagesWith, type ImageCatalog } from './images.js';
import {
  explainLaunchFailure,
  MAX_ALIASES_PER_LAUNCH,
  runInstancesInput,
  toNodeRecord,
  ZONE_SPECIFIC_LAUNCH_CODES,
} from './launch.js';
import { Ec2Network } from './network.js';
import { Ec2NodeVolumes } from './node-volumes.js';
import { priceQuote } from './prices.js';
import { releaseInstances } from './release.js';
import { checkVcpuQuota, ServiceQuotas, type QuotaReader } from './quota.js';
import type { Ec2ClientSettings } from './settings.js';
import { SsmParameters } from './ssm.js';
import { nodeUserData } from './user-data.js';
import { checkEc2Template, sshCidrWarning, validateEc2Template } from './validate.js';

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export interface Ec2ProviderOptions {
  /** Longest wait for instances to reach a state, seconds (default 900, StarCluster's 15 min). */
  waitTimeoutSeconds?: number;
  /** Backoff schedule for deleting a security group still in use (ms); default 2 s doubling to 30 s, ~5 min total. */
  sgDeleteDelaysMs?: number[];
  /** Where SSM parameters are read (default: SSM in the provider's region, loaded on first use). */
  parameters?: Pick<SsmParameters, 'get'>;
  /** Where the account's vCPU quotas are read (default: Service Quotas in the provider's region). */
  quotas?: QuotaReader;
  /**
   * Backoff for tagging instances RunInstances just made, while EC2 does not know them yet
   * (InvalidInstanceID.NotFound: its API is eventually consistent); default 0.25 s doubling, ~30 s.
   */
  tagRetryDelaysMs?: number[];
  /** Whose time the retries' pauses and the volume attachment's deadline are measured in (default the wall clock). */
  clock?: Clock;
}

/**
 * The EC2 provider: nodes by tags, idempotent launches with tags at creation, waiters, power; the
 * template checked against the account; the cluster's network (./network.ts) and the account's
 * resources (./account.ts). Unit tests run it over a fake EC2: `new Ec2Provider(new Ec2Api(settings,
 * fakeClient))`.
 */
export class Ec2Provider implements Provider {
  readonly kind = 'ec2' as const;
  readonly nodesAreMachines = true;
  readonly network: Ec2Network;
  readonly power: NodePower = {
    stop: async (ids, signal) => {
      await this.api.stopInstances([...ids]);
      await this.api.waitInstances('stopped', [...ids], this.waitTimeoutSeconds, signal);
    },
    start: (ids) => this.api.startInstances([...ids]),
    reboot: async (ids, signal) => {
      await this.api.rebootInstances([...ids]);
      await this.waitRunning([...ids], signal);
    },
  };
  readonly volumes: NodeVolumes;
  readonly waitTimeoutSeconds: number;
  private readonly api: Ec2Api;
  private readonly parameters: Pick<SsmParameters, 'get'>;
  private readonly quotas: QuotaReader;
  private readonly tagRetryDelaysMs: number[];
  private readonly clock: Clock;

  constructor(settingsOrApi: Ec2ClientSettings | Ec2Api, options: Ec2ProviderOptions = {}) {
    this.api = settingsOrApi instanceof Ec2Api ? settingsOrApi : new Ec2Api(settingsOrApi);
    this.parameters = options.parameters ?? new SsmParameters(this.api.settings);
    this.quotas = options.quotas ?? new ServiceQuotas(this.api.settings);
    this.waitTimeoutSeconds = options.waitTimeoutSeconds ?? 900;
    this.clock = options.clock ?? systemClock;
    this.network = new Ec2Network(
      this.api,
      options.sgDeleteDelaysMs ?? [2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000],
      this.clock,
    );
    this.volumes = new Ec2NodeVolumes(this.api, this.waitTimeoutSeconds, this.clock);
    this.tagRetryDelaysMs = options.tagRetryDelaysMs ?? [250, 500, 1000, 2000, 4000, 8000, 15000];
  }

  get region(): string {
    return this.api.region;
  }

  /** How the region was chosen (`--region`, `$AWS_REGION`, `profile dev in ~/.aws/config`...). */
  get regionSource(): string | undefined {
    return this.api.settings.regionSource;
  }

  /** The client settings (region, endpoint, poll interval) this provider was made with. */
  get settings(): Ec2ClientSettings {
    return this.api.settings;
  }

  account(): Account {
    return new Ec2Account({
      api: this.api,
      region: this.region,
      ...(this.regionSource ? { regionSource: this.regionSource } : {}),
      waitTimeoutSeconds: this.waitTimeoutSeconds,
      catalog: () => this.imageCatalog(),
    });
  }

  // --- templates -------------------------------------------------------------------------------

  checkTemplate(template: ClusterTemplate, shapes: readonly LaunchShape[]): Promise<LaunchProblem[]> {
    return checkEc2Template(template, shapes);
  }

  validateTemplate(template: ClusterTemplate, options: TemplateCheckOptions): Promise<LaunchProblem[]> {
    return validateEc2Template(this.api, template, options);
  }

  async userData(template: ClusterTemplate): Promise<Buffer> {
    return (await nodeUserData(template)).userData;
  }

  templateWarnings(template: Pick<ClusterTemplate, 'name' | 'sshCidr'>): string[] {
    return [sshCidrWarning(template)].filter((w) => w !== undefined);
  }

  /** The built-in table's on-demand estimate in this region (prices.ts: a table, never fetched). */
  priceQuote(instanceType: string): PriceQuote {
    return priceQuote(instanceType, this.region);
  }

  /** DescribeSpotPriceHistory (Linux/UNIX) from `since`; EC2 includes the price in effect then. */
  async spotPriceHistory(instanceType: string, options: { since: Date; zone?: string }): Promise<SpotPricePoint[]> {
    const prices = await this.api.describeSpotPriceHistory({
      instanceTypes: [instanceType],
      ...(options.zone ? { zone: options.zone } : {}),
      start: options.since,
      productDescriptions: ['Linux/UNIX'],
    });
    return prices.flatMap((p) => {
      const usdPerHour = Number(p.SpotPrice ?? 'NaN');
      return p.AvailabilityZone && p.Timestamp && Number.isFinite(usdPerHour)
        ? [{ zone: p.AvailabilityZone, time: new Date(p.Timestamp), usdPerHour }]
        : [];
    });
  }

  /** The standard-class vCPU quotas (on-demand, spot) against what runs and what is to launch (quota.ts). */
  async checkLaunchQuota(launches: readonly LaunchCount[]): Promise<QuotaCheck> {
    return checkVcpuQuota(this.api, this.quotas, launches);
  }

  /** Aliases and resolve:ssm: through SSM, for each instance type's architecture; then the checks. */
  async resolveImages(requests: readonly ImageRequest[], options: ImageCheckOptions = {}): Promise<ImageResolution> {
    throwIfAborted(options.signal);
    return resolveImagesWith(this.imageCatalog(), requests, {
      ...(options.zone ? { zone: options.zone } : {}),
      ...(options.subnetId ? { subnetId: options.subnetId } : {}),
    });
  }

  /** The lookups image resolution makes, over EC2 and SSM. */
  imageCatalog(): ImageCatalog {
    return ec2ImageCatalog(this.api, this.parameters);
  }

  // --- nodes -----------------------------------------------------------------------------------

  async listNodes(cluster: string): Promise<NodeRecord[]> {
    return (await this.clusterInstances(cluster, LIVE_STATES)).map(toNodeRecord);
  }

  async describeNodes(ids: string[]): Promise<NodeRecord[]> {
    if (ids.length === 0) return [];
    try {
      return (await this.api.describeInstances([], ids)).map(toNodeRecord);
    } catch (error) {
      if (isCode(error, 'InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed')) return [];
      throw error;
    }
  }

  /** Instances of the cluster in the given states (default: every state but terminated). */
  private async clusterInstances(cluster: string, states: string[] = [...LIVE_STATES, 'shutting-down']) {
    return this.api.describeInstances([
      { Name: `tag:${TAG_CLUSTER}`, Values: [cluster] },
      { Name: 'instance-state-name', Values: states },
    ]);
  }

  async listClusters(): Promise<string[]> {
    const [instances, groups] = await Promise.all([
      this.api.describeInstances([
        { Name: 'tag-key', Values: [TAG_CLUSTER] },
        { Name: 'instance-state-name', Values: LIVE_STATES },
      ]),
      this.api.describeSecurityGroups([{ Name: 'tag-key', Values: [TAG_CLUSTER] }]),
    ]);
    const names = new Set<string>();
    for (const resource of [...instances, ...groups]) {
      const name = fromTags(resource.Tags)[TAG_CLUSTER];
      if (name) names.add(name);
    }
    return [...names].sort();
  }

  /** The cluster's security group and the settings tagged on it. */
  async describeCluster(cluster: string): Promise<ClusterRecord> {
    const group = (await this.network.clusterGroups(cluster))[0];
    if (!group) return {};
    return {
      ...(group.tags[TAG_TEMPLATE] ? { template: group.tags[TAG_TEMPLATE] } : {}),
      ...(group.tags[TAG_DESCRIPTION] ? { description: group.tags[TAG_DESCRIPTION] } : {}),
      securityGroup: { id: group.id, name: group.name },
    };
  }

  /**
   * One RunInstances call per MAX_ALIASES_PER_LAUNCH aliases, all tags at creation (cluster, role,
   * the alias list), then the per-instance alias and Name tags. A spot bid makes them one-time
   * spot instances (RunInstances' market options, whose requests carry the same tags).
   */
  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NodeRecord[]> {
    const launched: Instance[] = [];
    for (let start = 0; start < spec.aliases.length; start += MAX_ALIASES_PER_LAUNCH) {
      throwIfAborted(signal);
      const aliases = spec.aliases.slice(start, start + MAX_ALIASES_PER_LAUNCH);
      const token = start === 0 ? spec.clientToken : `${spec.clientToken.slice(0, 58)}-${start}`;
      const instances = await this.api
        .runInstances(runInstancesInput(spec, aliases, token, false), signal)
        .catch((error: unknown) => {
          throw explainLaunchFailure(error, spec, aliases.length);
        });
      // Tag each instance with its own alias; the launch index maps instances to aliases.
      await Promise.all(
        instances.map(async (instance) => {
          const alias = aliases[instance.AmiLaunchIndex ?? 0] ?? aliases[0] ?? 'node';
          await this.tagNew(instance.InstanceId ?? '', {
            [TAG_ALIAS]: alias,
            [TAG_NAME]: `${spec.cluster}-${alias}`,
          });
          instance.Tags = [
            ...(instance.Tags ?? []).filter((t) => t.Key !== TAG_ALIAS && t.Key !== TAG_NAME),
            { Key: TAG_ALIAS, Value: alias },
            { Key: TAG_NAME, Value: `${spec.cluster}-${alias}` },
          ];
        }),
      );
      launched.push(...instances);
    }
    return launched.map(toNodeRecord);
  }

  /**
   * Tags an instance RunInstances has just returned. Everything that matters (cluster, role, run,
   * user TAGS, the alias list) was tagged at creation; this adds the per-instance alias and Name,
   * retrying while EC2 does not yet know the instance (InvalidInstanceID.NotFound).
   */
  private async tagNew(instanceId: string, tags: Record<string, string>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.createTags([instanceId], tags);
        return;
      } catch (error) {
        const delay = this.tagRetryDelaysMs[attempt];
        if (!isCode(error, 'InvalidInstanceID.NotFound') || delay === undefined) throw error;
        await this.clock.sleep(delay);
      }
    }
  }

  /** Asks EC2 whether this launch would succeed, with DryRun=true; creates nothing. */
  async dryRunLaunch(spec: LaunchSpec): Promise<true> {
    const aliases = spec.aliases.slice(0, MAX_ALIASES_PER_LAUNCH);
    return this.api.dryRun('RunInstances', () =>
      this.api.runInstances(runInstancesInput(spec, aliases, spec.clientToken, true)),
    );
  }

  isZoneSpecific(error: unknown): boolean {
    return StarclusterError.is(error) && ZONE_SPECIFIC_LAUNCH_CODES.includes(error.code);
  }

  async launchZones(): Promise<string[]> {
    return (await this.api.describeAvailabilityZones())
      .filter((z) => z.State === 'available' && z.ZoneType !== 'local-zone' && z.ZoneName)
      .map((z) => z.ZoneName!);
  }

  async waitRunning(ids: string[], signal?: AbortSignal): Promise<NodeRecord[]> {
    if (ids.length === 0) return [];
    try {
      await this.api.waitInstances('running', ids, this.waitTimeoutSeconds, signal);
    } catch (error) {
      throwIfAborted(signal);
      const records = (await this.api.describeInstances([], ids)).map(toNodeRecord);
      const stuck = records.filter((r) => r.state !== 'running').map((r) => `${r.alias} (${r.id}: ${r.state})`);
      throw new CloudError(
        'InstancesNotRunning',
        `instances did not reach running: ${stuck.join(', ') || ids.join(', ')}`,
        {
          cause: error,
          hint: 'run `starcluster terminate` to remove them, or `starcluster start` again to resume',
        },
      );
    }
    return (await this.api.describeInstances([], ids)).map(toNodeRecord);
  }

  async terminate(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.api.terminateInstances(ids);
  }

  async waitTerminated(ids: string[], signal?: AbortSignal): Promise<void> {
    await this.api.waitInstances('terminated', ids, this.waitTimeoutSeconds, signal);
  }

  async terminateRun(
    cluster: string,
    runId: string,
    ids: readonly string[],
    options: { wait?: boolean } = {},
  ): Promise<void> {
    // Whatever the run launched, seen or not: by the run tag.
    const all = new Set(ids);
    const tagged = await this.api.describeInstances([
      { Name: `tag:${TAG_RUN}`, Values: [runId] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ]);
    for (const i of tagged) if (i.InstanceId) all.add(i.InstanceId);
    if (all.size === 0) return;
    await this.terminate([...all]);
    await this.cancelSpotRequests(await this.spotRequests(cluster, [...all]));
    if (options.wait) await this.waitTerminated([...all]);
  }

  async shuttingDown(cluster: string): Promise<string[]> {
    return (await this.clusterInstances(cluster, ['shutting-down'])).flatMap((i) => i.InstanceId ?? []);
  }

  async finishTerminating(
    cluster: string,
    terminated: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ extra: string[]; waitedFor: string[] }> {
    const pending = (await this.clusterInstances(cluster)).flatMap((i) => i.InstanceId ?? []);
    // Anything that appeared since the listing (a start racing us) goes too.
    const extra = pending.filter((id) => !terminated.includes(id));
    await this.terminate(extra);
    await this.waitTerminated(pending, signal);
    return { extra, waitedFor: pending };
  }

  /** Open or active spot requests of the cluster: tagged with it, or feeding its instances. */
  async spotRequests(cluster: string, instanceIds: readonly string[] = []): Promise<string[]> {
    const ids = new Set<string>();
    const open = { Name: 'state', Values: ['open', 'active'] };
    for (const r of await this.api.describeSpotRequests([{ Name: `tag:${TAG_CLUSTER}`, Values: [cluster] }, open]))
      if (r.SpotInstanceRequestId) ids.add(r.SpotInstanceRequestId);
    if (instanceIds.length)
      for (const r of await this.api.describeSpotRequests([{ Name: 'instance-id', Values: [...instanceIds] }, open]))
        if (r.SpotInstanceRequestId) ids.add(r.SpotInstanceRequestId);
    return [...ids];
  }

  async cancelSpotRequests(ids: readonly string[]): Promise<void> {
    try {
      await this.api.cancelSpotRequests([...ids]);
    } catch (error) {
      if (!isCode(error, 'InvalidSpotInstanceRequestID.NotFound')) throw error;
    }
  }

  /** Out of @sc-NAME (into the VPC's default group) and untagged, with their root volumes and spot requests (release.ts). */
  releaseNodes(cluster: string, ids: readonly string[]): Promise<string[]> {
    return releaseInstances(this.api, this.network, cluster, ids);
  }
}
