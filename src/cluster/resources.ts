import { mkdir, writeFile, readFile, access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createProvider, ec2Of } from '../cloud/index.js';
import type { Provider } from '../cloud/provider.js';
import type { StarclusterConfig } from '../config/types.js';
import { CloudError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import { fromTags, isCode } from '../cloud/ec2/api.js';
import type { Ec2Provider } from '../cloud/ec2/provider.js';
import { TAG_MKFS, TAG_RESIZEFS } from '../setup/volumes.js';
import { ARCHITECTURES, STOCK_IMAGES, type Architecture, type DistroFamily } from '../cloud/images.js';

/**
 * The account-level EC2 commands (keys, volumes, regions, zones, images, spot prices, console
 * output): one function each, returning plain JSON-able data for `--json`.
 */
export interface Ec2Target {
  config?: StarclusterConfig;
  /** Default: EC2 from the config and environment. */
  provider?: Provider;
}

async function ec2(target: Ec2Target): Promise<Ec2Provider> {
  const provider = target.provider ?? (await createProvider(undefined, target.config, { kind: 'ec2' }));
  const e = ec2Of(provider);
  if (!e) throw new UsageError('NotEc2', 'this command works on EC2 only');
  return e;
}

// --- key pairs -----------------------------------------------------------------------------------

export interface KeyPairSummary {
  name: string;
  fingerprint: string;
  id?: string;
  type?: string;
}

export async function listKeyPairs(target: Ec2Target): Promise<KeyPairSummary[]> {
  const e = await ec2(target);
  return (await e.api.describeKeyPairs()).map((k) => ({
    name: k.KeyName ?? '',
    fingerprint: k.KeyFingerprint ?? '',
    ...(k.KeyPairId ? { id: k.KeyPairId } : {}),
    ...(k.KeyType ? { type: k.KeyType } : {}),
  }));
}

/**
 * `createkey NAME [-o FILE] [-i PUBKEY]`: creates a key pair and writes its private key to FILE
 * with mode 0600 (refusing to overwrite), or imports an existing public key.
 */
export async function createKey(
  target: Ec2Target & { name: string; outputFile?: string; importPublicKeyFile?: string; io?: IoHost },
): Promise<KeyPairSummary & { file?: string; imported: boolean }> {
  const e = await ec2(target);
  if (target.importPublicKeyFile) {
    const publicKey = await readFile(target.importPublicKeyFile, 'utf8').catch(() => {
      throw new UsageError('PublicKeyFile', `cannot read public key file ${target.importPublicKeyFile}`);
    });
    const fingerprint = await e.api.importKeyPair(target.name, publicKey.trim());
    return { name: target.name, fingerprint, imported: true };
  }
  if (target.outputFile) {
    const exists = await access(target.outputFile).then(
      () => true,
      () => false,
    );
    if (exists)
      throw new UsageError('KeyFileExists', `${target.outputFile} already exists: choose another -o file or remove it`);
  }
  const made = await e.api.createKeyPair(target.name);
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

export async function removeKey(target: Ec2Target & { name: string }): Promise<{ name: string; removed: boolean }> {
  const e = await ec2(target);
  const pair = await e.api.findKeyPair(target.name);
  if (!pair) throw new CloudError('KeyPairNotFound', `key pair ${target.name} does not exist in ${e.region}`);
  await e.api.deleteKeyPair(target.name);
  return { name: target.name, removed: true };
}

// --- volumes -------------------------------------------------------------------------------------

export interface VolumeSummary {
  id: string;
  sizeGb: number;
  state: string;
  zone: string;
  type?: string;
  snapshotId?: string;
  createTime?: string;
  attachments: { instanceId: string; device: string; state: string }[];
  tags: Record<string, string>;
}

export interface VolumeFilters {
  name?: string;
  volumeId?: string;
  size?: number;
  status?: string;
  attachStatus?: string;
  zone?: string;
  snapshotId?: string;
  tag?: Record<string, string>;
  /** StarCluster's `-d/--show-deleted`: include volumes being deleted (hidden by default). */
  showDeleted?: boolean;
}

export async function listVolumes(target: Ec2Target & { filters?: VolumeFilters }): Promise<VolumeSummary[]> {
  const e = await ec2(target);
  const f = target.filters ?? {};
  const filters = [
    ...(f.name ? [{ Name: 'tag:Name', Values: [f.name] }] : []),
    ...(f.size !== undefined ? [{ Name: 'size', Values: [String(f.size)] }] : []),
    ...(f.status ? [{ Name: 'status', Values: [f.status] }] : []),
    ...(f.attachStatus ? [{ Name: 'attachment.status', Values: [f.attachStatus] }] : []),
    ...(f.zone ? [{ Name: 'availability-zone', Values: [f.zone] }] : []),
    ...(f.snapshotId ? [{ Name: 'snapshot-id', Values: [f.snapshotId] }] : []),
    ...Object.entries(f.tag ?? {}).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
  ];
  const volumes = await e.api
    .describeVolumes(filters, f.volumeId ? [f.volumeId] : undefined)
    .catch((error: unknown) => {
      if (isCode(error, 'InvalidVolume.NotFound')) return [];
      throw error;
    });
  return volumes
    .filter((v) => f.showDeleted || (v.State !== 'deleting' && v.State !== 'deleted'))
    .map((v) => ({
      id: v.VolumeId ?? '',
      sizeGb: v.Size ?? 0,
      state: v.State ?? '',
      zone: v.AvailabilityZone ?? '',
      ...(v.VolumeType ? { type: v.VolumeType } : {}),
      ...(v.SnapshotId ? { snapshotId: v.SnapshotId } : {}),
      ...(v.CreateTime ? { createTime: new Date(v.CreateTime).toISOString() } : {}),
      attachments: (v.Attachments ?? []).map((a) => ({
        instanceId: a.InstanceId ?? '',
        device: a.Device ?? '',
        state: a.State ?? '',
      })),
      tags: fromTags(v.Tags),
    }));
}

// createvolume's format command and resizevolume's grow command travel as volume tags; setup reads them.
export { TAG_MKFS, TAG_RESIZEFS };
export const DEFAULT_MKFS = 'mkfs.ext4';
export const DEFAULT_RESIZEFS = 'resize2fs';

/**
 * `createvolume SIZE ZONE [-n NAME] [-t k=v] [-m MKFS]`: an EBS volume, tagged with the command
 * that formats it. StarCluster started a host instance to attach and format it; here formatting
 * is node-setup work, done when a cluster first mounts the blank volume (see TAG_MKFS).
 */
export async function createVolume(
  target: Ec2Target & {
    sizeGb: number;
    zone: string;
    name?: string;
    tags?: Record<string, string>;
    snapshotId?: string;
    /** Format command for the first mount (default mkfs.ext4; none for a volume made from a snapshot). */
    mkfsCmd?: string;
  },
): Promise<VolumeSummary> {
  if (!Number.isInteger(target.sizeGb) || target.sizeGb < 1)
    throw new UsageError('VolumeSize', `volume size ${target.sizeGb} must be a whole number of GiB, at least 1`);
  const e = await ec2(target);
  const zones = await e.api.describeAvailabilityZones().catch(() => []);
  if (zones.length && !zones.some((z) => z.ZoneName === target.zone))
    throw new UsageError(
      'UnknownZone',
      `availability zone ${target.zone} does not exist in ${e.region} (zones: ${zones.map((z) => z.ZoneName).join(', ')})`,
    );
  const v = await e.api.createVolume({
    sizeGb: target.sizeGb,
    zone: target.zone,
    ...(target.snapshotId ? { snapshotId: target.snapshotId } : {}),
    tags: {
      ...(target.tags ?? {}),
      ...(target.name ? { Name: target.name } : {}),
      'starcluster:volume': 'true',
      // A volume made from a snapshot has its filesystem already.
      ...(target.snapshotId ? {} : { [TAG_MKFS]: target.mkfsCmd ?? DEFAULT_MKFS }),
    },
  });
  return {
    id: v.VolumeId ?? '',
    sizeGb: v.Size ?? target.sizeGb,
    state: v.State ?? '',
    zone: v.AvailabilityZone ?? target.zone,
    ...(v.VolumeType ? { type: v.VolumeType } : {}),
    attachments: [],
    tags: fromTags(v.Tags),
  };
}

export interface ResizeVolumeResult {
  /** The volume that was copied; it is kept, as StarCluster kept it. */
  from: string;
  volume: VolumeSummary;
  /** The temporary snapshot (deleted once the new volume exists). */
  snapshotId: string;
}

/**
 * `resizevolume VOL SIZE [-z ZONE] [-r RESIZEFS]`: snapshot the volume, make a bigger one from the
 * snapshot (in ZONE, default the volume's own), delete the snapshot. The old volume is kept. The
 * filesystem grows when a cluster next mounts the new volume (TAG_RESIZEFS), where StarCluster ran
 * resize2fs on a host instance of its own.
 */
export async function resizeVolume(
  target: Ec2Target & {
    volumeId: string;
    sizeGb: number;
    zone?: string;
    resizefsCmd?: string;
    io?: IoHost;
    signal?: AbortSignal;
  },
): Promise<ResizeVolumeResult> {
  if (!Number.isInteger(target.sizeGb) || target.sizeGb < 1)
    throw new UsageError('VolumeSize', `volume size ${target.sizeGb} must be a whole number of GiB, at least 1`);
  const e = await ec2(target);
  const [volume] = await e.api.describeVolumes([], [target.volumeId]).catch((error: unknown) => {
    if (isCode(error, 'InvalidVolume.NotFound', 'InvalidVolumeID.Malformed')) return [];
    throw error;
  });
  if (!volume) throw new CloudError('VolumeNotFound', `volume ${target.volumeId} does not exist in ${e.region}`);
  if ((volume.Size ?? 0) >= target.sizeGb)
    throw new UsageError(
      'VolumeNotLarger',
      `volume ${target.volumeId} is ${volume.Size} GiB: the new size must be larger (EBS volumes cannot shrink)`,
    );
  const zone = target.zone ?? volume.AvailabilityZone ?? '';
  const zones = await e.api.describeAvailabilityZones().catch(() => []);
  if (zones.length && !zones.some((z) => z.ZoneName === zone))
    throw new UsageError(
      'UnknownZone',
      `availability zone ${zone} does not exist in ${e.region} (zones: ${zones.map((z) => z.ZoneName).join(', ')})`,
    );
  const snapshot = await e.api.createSnapshot(target.volumeId, `starcluster resizevolume ${target.volumeId}`, {
    'starcluster:resize-of': target.volumeId,
  });
  const snapshotId = snapshot.SnapshotId ?? '';
  try {
    await e.api.waitSnapshotCompleted(snapshotId, e.waitTimeoutSeconds, target.signal);
    const tags = fromTags(volume.Tags);
    delete tags[TAG_MKFS];
    const made = await e.api.createVolume({
      sizeGb: target.sizeGb,
      zone,
      snapshotId,
      ...(volume.VolumeType ? { volumeType: volume.VolumeType } : {}),
      tags: {
        ...tags,
        [TAG_RESIZEFS]: target.resizefsCmd ?? DEFAULT_RESIZEFS,
        'starcluster:resized-from': target.volumeId,
      },
    });
    return {
      from: target.volumeId,
      snapshotId,
      volume: {
        id: made.VolumeId ?? '',
        sizeGb: made.Size ?? target.sizeGb,
        state: made.State ?? '',
        zone: made.AvailabilityZone ?? zone,
        ...(made.VolumeType ? { type: made.VolumeType } : {}),
        snapshotId,
        attachments: [],
        tags: fromTags(made.Tags),
      },
    };
  } finally {
    // The snapshot was only the way across; a volume being made from it does not need it kept.
    await e.api.deleteSnapshot(snapshotId).catch(() => undefined);
  }
}

// --- spot requests -------------------------------------------------------------------------------

export interface SpotRequestSummary {
  id: string;
  state: string;
  status?: string;
  type?: string;
  price?: string;
  instanceId?: string;
  instanceType?: string;
  zone?: string;
  createTime?: string;
  cluster?: string;
}

/** `listspots [-c]`: spot requests, open and active ones (with `showClosed`, all of them). */
export async function listSpots(target: Ec2Target & { showClosed?: boolean }): Promise<SpotRequestSummary[]> {
  const e = await ec2(target);
  const requests = await e.api.describeSpotRequests(
    target.showClosed ? [] : [{ Name: 'state', Values: ['open', 'active'] }],
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
      ...(fromTags(r.Tags)['starcluster:cluster'] ? { cluster: fromTags(r.Tags)['starcluster:cluster'] } : {}),
    }))
    .sort((a, b) => (a.createTime ?? '').localeCompare(b.createTime ?? ''));
}

/** `removevolume VOL...`: deletes volumes, refusing those attached or in use. */
export async function removeVolumes(target: Ec2Target & { volumeIds: string[] }): Promise<{ removed: string[] }> {
  const e = await ec2(target);
  const volumes = await e.api.describeVolumes([], target.volumeIds).catch((error: unknown) => {
    if (isCode(error, 'InvalidVolume.NotFound'))
      throw new CloudError('VolumeNotFound', `volume ${target.volumeIds.join(', ')} does not exist in ${e.region}`);
    throw error;
  });
  const busy = volumes.filter((v) => v.State !== 'available');
  if (busy.length)
    throw new CloudError(
      'VolumeInUse',
      `volume ${busy.map((v) => `${v.VolumeId} (${v.State})`).join(', ')} is not available: detach it first`,
    );
  for (const v of volumes) await e.api.deleteVolume(v.VolumeId ?? '');
  return { removed: volumes.map((v) => v.VolumeId ?? '') };
}

// --- regions, zones, images ----------------------------------------------------------------------

export async function listRegions(target: Ec2Target): Promise<{ name: string; endpoint?: string }[]> {
  const e = await ec2(target);
  return (await e.api.describeRegions())
    .map((r) => ({ name: r.RegionName ?? '', ...(r.Endpoint ? { endpoint: r.Endpoint } : {}) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function listZones(target: Ec2Target): Promise<{ name: string; state: string; region: string }[]> {
  const e = await ec2(target);
  return (await e.api.describeAvailabilityZones())
    .map((z) => ({ name: z.ZoneName ?? '', state: z.State ?? '', region: z.RegionName ?? e.region }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface ImageSummary {
  id: string;
  name: string;
  state: string;
  architecture?: string;
  rootDeviceType?: string;
  virtualizationType?: string;
  owner?: string;
  public?: boolean;
  creationDate?: string;
  description?: string;
}

/** `listimages`: your own AMIs; with `shared`, also those others share with you. */
export async function listImages(target: Ec2Target & { shared?: boolean; owners?: string[] }): Promise<ImageSummary[]> {
  const e = await ec2(target);
  const owners = target.owners ?? (target.shared ? ['self'] : ['self']);
  const images = await e.api.describeImages(
    target.shared ? { filters: [{ Name: 'state', Values: ['available'] }] } : { owners },
  );
  return images.map(imageSummary).sort((a, b) => a.name.localeCompare(b.name));
}

export async function showImage(target: Ec2Target & { imageId: string }): Promise<ImageSummary> {
  const e = await ec2(target);
  const images = await e.api.describeImages({ imageIds: [target.imageId] }).catch((error: unknown) => {
    if (isCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed')) return [];
    throw error;
  });
  const image = images[0];
  if (!image) throw new CloudError('ImageNotFound', `AMI ${target.imageId} does not exist in ${e.region}`);
  return imageSummary(image);
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

export interface PublicImage {
  alias: string;
  description: string;
  family: DistroFamily;
  loginUser: string;
  architecture: Architecture;
  /** The SSM public parameter the alias reads. */
  parameter: string;
  /** The AMI id it holds in the region; absent when the region has no such parameter. */
  imageId?: string;
  /** The AMI's name, when EC2 knows the image. */
  imageName?: string;
}

/**
 * `listpublic` (StarCluster's name): every image alias, per architecture, with the AMI id its SSM
 * public parameter holds in the region, as `NODE_IMAGE_ID = ALIAS` would launch it.
 */
export async function listPublicImages(
  target: Ec2Target,
): Promise<{ region: string; regionSource?: string; images: PublicImage[] }> {
  const e = await ec2(target);
  const catalog = e.imageCatalog();
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
  return { region: e.region, ...(e.regionSource ? { regionSource: e.regionSource } : {}), images };
}

// --- spot prices, console ------------------------------------------------------------------------

export interface SpotHistory {
  instanceType: string;
  zone?: string;
  start: string;
  end: string;
  current?: number;
  average?: number;
  max?: number;
  min?: number;
  points: { time: string; price: number; zone: string }[];
}

/** `spothistory TYPE [-z ZONE] [-d DAYS]`: current, average, max price over the window. */
export async function spotHistory(
  target: Ec2Target & { instanceType: string; zone?: string; days?: number; start?: Date; end?: Date; now?: Date },
): Promise<SpotHistory> {
  const e = await ec2(target);
  const end = target.end ?? target.now ?? new Date();
  const start = target.start ?? new Date(end.getTime() - (target.days ?? 30) * 86400_000);
  const prices = await e.api.describeSpotPriceHistory({
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

export async function showConsole(
  target: Ec2Target & { instanceId: string },
): Promise<{ instanceId: string; output: string }> {
  const e = await ec2(target);
  try {
    return { instanceId: target.instanceId, output: await e.api.getConsoleOutput(target.instanceId) };
  } catch (error) {
    if (isCode(error, 'InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'))
      throw new CloudError('InstanceNotFound', `instance ${target.instanceId} does not exist in ${e.region}`);
    throw error;
  }
}
