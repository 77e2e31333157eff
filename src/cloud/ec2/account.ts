import { mkdir, writeFile, readFile, access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CloudError, UsageError } from '../../errors.js';
import { TAG_ALIAS, TAG_CLUSTER } from '../../model/tags.js';
import type {
  Account,
  CreateVolumeOptions,
  EbsImageOptions,
  EbsImageResult,
  ImageSummary,
  InstanceInfo,
  KeyPairSummary,
  PublicImage,
  RemoveImageOptions,
  RemoveImageResult,
  ResizeVolumeOptions,
  ResizeVolumeResult,
  SpotHistory,
  SpotHistoryOptions,
  SpotRequestSummary,
  VolumeFilters,
  VolumeSummary,
} from '../account.js';
import { ARCHITECTURES, STOCK_IMAGES } from '../images.js';
import type { IoHost } from '../../io-host.js';
import { type Ec2Api } from './api.js';
import { fromTags, isCode } from './errors.js';
import { ebsImage, removeImage } from './ebs-image.js';
import { instanceFields } from './launch.js';
import type { ImageCatalog } from './images.js';
import { createVolume, listVolumes, removeVolumes, resizeVolume } from './volumes.js';

/** What the account's operations share: the API, where it points, how long to wait, the image lookups. */
export interface AccountContext {
  api: Ec2Api;
  region: string;
  regionSource?: string;
  waitTimeoutSeconds: number;
  catalog(): ImageCatalog;
}

/** The EC2 account: key pairs, volumes, images, zones, spot requests and prices, instances. */
export class Ec2Account implements Account {
  private readonly api: Ec2Api;
  readonly region: string;
  readonly regionSource?: string;

  constructor(private readonly c: AccountContext) {
    this.api = c.api;
    this.region = c.region;
    if (c.regionSource) this.regionSource = c.regionSource;
  }

  get sdkClient(): unknown {
    return this.api.client;
  }

  close(): void {
    this.api.destroy();
  }

  // --- key pairs -----------------------------------------------------------------------------

  async listKeyPairs(): Promise<KeyPairSummary[]> {
    return (await this.api.describeKeyPairs()).map((k) => ({
      name: k.KeyName ?? '',
      fingerprint: k.KeyFingerprint ?? '',
      ...(k.KeyPairId ? { id: k.KeyPairId } : {}),
      ...(k.KeyType ? { type: k.KeyType } : {}),
    }));
  }

  async createKey(target: {
    name: string;
    outputFile?: string;
    importPublicKeyFile?: string;
    io?: IoHost;
  }): Promise<KeyPairSummary & { file?: string; imported: boolean }> {
    if (target.importPublicKeyFile) {
      const publicKey = await readFile(target.importPublicKeyFile, 'utf8').catch(() => {
        throw new UsageError('PublicKeyFile', `cannot read public key file ${target.importPublicKeyFile}`);
      });
      const fingerprint = await this.api.importKeyPair(target.name, publicKey.trim());
      return { name: target.name, fingerprint, imported: true };
    }
    if (target.outputFile) {
      const exists = await access(target.outputFile).then(
        () => true,
        () => false,
      );
      if (exists)
        throw new UsageError(
          'KeyFileExists',
          `${target.outputFile} already exists: choose another -o file or remove it`,
        );
    }
    const made = await this.api.createKeyPair(target.name);
    if (target.outputFile) {
      await mkdir(dirname(target.outputFile), { recursive: true });
      await writeFile(target.outputFile, made.material.endsWith('\n') ? made.material : `${made.material}\n`, {
        mode: 0o600,
        flag: 'wx',
      });
    } else {
      target.io?.notify({
        level: 'warn',
        code: 'SC_CREATEKEY_W0001',
        message: `no -o FILE given: the private key of ${target.name} was not saved and cannot be fetched again`,
      });
    }
    return {
      name: made.name,
      fingerprint: made.fingerprint,
      ...(made.id ? { id: made.id } : {}),
      ...(target.outputFile ? { file: target.outputFile } : {}),
      imported: false,
    };
  }

  async removeKey(name: string): Promise<{ name: string; removed: boolean }> {
    const pair = await this.api.findKeyPair(name);
    if (!pair) throw new CloudError('KeyPairNotFound', `key pair ${name} does not exist in ${this.region}`);
    await this.api.deleteKeyPair(name);
    return { name: name, removed: true };
  }

  // --- volumes (./volumes.ts) ------------------------------------------------------------------

  listVolumes(filters?: VolumeFilters): Promise<VolumeSummary[]> {
    return listVolumes(this.c, filters);
  }

  createVolume(options: CreateVolumeOptions): Promise<VolumeSummary> {
    return createVolume(this.c, options);
  }

  resizeVolume(options: ResizeVolumeOptions): Promise<ResizeVolumeResult> {
    return resizeVolume(this.c, options);
  }

  removeVolumes(volumeIds: string[]): Promise<{ removed: string[] }> {
    return removeVolumes(this.c, volumeIds);
  }

  // --- regions, zones, images ------------------------------------------------------------------

  async listRegions(): Promise<{ name: string; endpoint?: string }[]> {
    return (await this.api.describeRegions())
      .map((r) => ({ name: r.RegionName ?? '', ...(r.Endpoint ? { endpoint: r.Endpoint } : {}) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async listZones(): Promise<{ name: string; state: string; region: string }[]> {
    return (await this.api.describeAvailabilityZones())
      .map((z) => ({ name: z.ZoneName ?? '', state: z.State ?? '', region: z.RegionName ?? this.region }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async listImages(options: { shared?: boolean; owners?: string[] } = {}): Promise<ImageSummary[]> {
    const owners = options.owners ?? (options.shared ? ['self'] : ['self']);
    const images = await this.api.describeImages(
      options.shared ? { filters: [{ Name: 'state', Values: ['available'] }] } : { owners },
    );
    return images.map(imageSummary).sort((a, b) => a.name.localeCompare(b.name));
  }

  async showImage(imageId: string): Promise<ImageSummary> {
    const images = await this.api.describeImages({ imageIds: [imageId] }).catch((error: unknown) => {
      if (isCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed')) return [];
      throw error;
    });
    const image = images[0];
    if (!image) throw new CloudError('ImageNotFound', `AMI ${imageId} does not exist in ${this.region}`);
    return imageSummary(image);
  }

  async listPublicImages(): Promise<{ region: string; regionSource?: string; images: PublicImage[] }> {
    const catalog = this.c.catalog();
    const images = await Promise.all(
      STOCK_IMAGES.flatMap((image) =>
        ARCHITECTURES.map(async (architecture): Promise<PublicImage> => {
          const parameter = image.parameters[architecture];
          const imageId = (await catalog.parameter(parameter))?.trim();
          const described = imageId ? await catalog.describeImage(imageId) : undefined;
          return {
            alias: image.alias,
            description: image.description,
            family: image.family,
            loginUser: image.loginUser,
            architecture,
            parameter,
            ...(imageId ? { imageId } : {}),
            ...(described?.name ? { imageName: described.name } : {}),
          };
        }),
      ),
    );
    return { region: this.region, ...(this.regionSource ? { regionSource: this.regionSource } : {}), images };
  }

  ebsImage(options: EbsImageOptions): Promise<EbsImageResult> {
    return ebsImage(this.c, options);
  }

  removeImage(options: RemoveImageOptions): Promise<RemoveImageResult> {
    return removeImage(this.c, options);
  }

  // --- spot requests and prices, instances -----------------------------------------------------

  async listSpots(options: { showClosed?: boolean } = {}): Promise<SpotRequestSummary[]> {
    const requests = await this.api.describeSpotRequests(
      options.showClosed ? [] : [{ Name: 'state', Values: ['open', 'active'] }],
    );
    return requests
      .map((r) => ({
        id: r.SpotInstanceRequestId ?? '',
        state: r.State ?? '',
        ...(r.Status?.Code ? { status: r.Status.Code } : {}),
        ...(r.Type ? { type: r.Type } : {}),
        ...(r.SpotPrice ? { price: r.SpotPrice } : {}),
        ...(r.InstanceId ? { instanceId: r.InstanceId } : {}),
        ...(r.LaunchSpecification?.InstanceType ? { instanceType: r.LaunchSpecification.InstanceType } : {}),
        ...(r.LaunchedAvailabilityZone ? { zone: r.LaunchedAvailabilityZone } : {}),
        ...(r.CreateTime ? { createTime: new Date(r.CreateTime).toISOString() } : {}),
        ...(fromTags(r.Tags)[TAG_CLUSTER] ? { cluster: fromTags(r.Tags)[TAG_CLUSTER] } : {}),
      }))
      .sort((a, b) => (a.createTime ?? '').localeCompare(b.createTime ?? ''));
  }

  async spotHistory(target: SpotHistoryOptions): Promise<SpotHistory> {
    const end = target.end ?? target.now ?? new Date();
    const start = target.start ?? new Date(end.getTime() - (target.days ?? 30) * 86400_000);
    const prices = await this.api.describeSpotPriceHistory({
      instanceTypes: [target.instanceType],
      ...(target.zone ? { zone: target.zone } : {}),
      start,
      end,
      productDescriptions: ['Linux/UNIX'],
    });
    const points = prices
      .map((p) => ({
        time: p.Timestamp ? new Date(p.Timestamp).toISOString() : '',
        price: Number(p.SpotPrice ?? 'NaN'),
        zone: p.AvailabilityZone ?? '',
      }))
      .filter((p) => Number.isFinite(p.price))
      .sort((a, b) => a.time.localeCompare(b.time));
    const values = points.map((p) => p.price);
    return {
      instanceType: target.instanceType,
      ...(target.zone ? { zone: target.zone } : {}),
      start: start.toISOString(),
      end: end.toISOString(),
      ...(values.length
        ? {
            current: values[values.length - 1] as number,
            average: values.reduce((a, b) => a + b, 0) / values.length,
            max: Math.max(...values),
            min: Math.min(...values),
          }
        : {}),
      points,
    };
  }

  async listInstances(options: { includeTerminated?: boolean } = {}): Promise<InstanceInfo[]> {
    const filters = options.includeTerminated
      ? []
      : [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] }];
    const instances = await this.api.describeInstances(filters);
    return instances.map((i) => {
      const tags = fromTags(i.Tags);
      return {
        ...instanceFields(i),
        state: i.State?.Name ?? '',
        ...(i.LaunchTime ? { launchTime: new Date(i.LaunchTime).toISOString() } : {}),
        ...(tags[TAG_CLUSTER] ? { cluster: tags[TAG_CLUSTER] } : {}),
        ...(tags[TAG_ALIAS] ? { alias: tags[TAG_ALIAS] } : {}),
        securityGroups: (i.SecurityGroups ?? []).map((g) => g.GroupName ?? g.GroupId ?? ''),
        tags,
      };
    });
  }

  async showConsole(instanceId: string): Promise<{ instanceId: string; output: string }> {
    try {
      return { instanceId: instanceId, output: await this.api.getConsoleOutput(instanceId) };
    } catch (error) {
      if (isCode(error, 'InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'))
        throw new CloudError('InstanceNotFound', `instance ${instanceId} does not exist in ${this.region}`);
      throw error;
    }
  }
}

function imageSummary(i: {
  ImageId?: string;
  Name?: string;
  State?: string;
  Architecture?: string;
  RootDeviceType?: string;
  VirtualizationType?: string;
  OwnerId?: string;
  Public?: boolean;
  CreationDate?: string;
  Description?: string;
}): ImageSummary {
  return {
    id: i.ImageId ?? '',
    name: i.Name ?? '',
    state: i.State ?? '',
    ...(i.Architecture ? { architecture: i.Architecture } : {}),
    ...(i.RootDeviceType ? { rootDeviceType: i.RootDeviceType } : {}),
    ...(i.VirtualizationType ? { virtualizationType: i.VirtualizationType } : {}),
    ...(i.OwnerId ? { owner: i.OwnerId } : {}),
    ...(i.Public !== undefined ? { public: i.Public } : {}),
    ...(i.CreationDate ? { creationDate: i.CreationDate } : {}),
    ...(i.Description ? { description: i.Description } : {}),
  };
}
