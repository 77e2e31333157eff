import type { IoHost } from '../io-host.js';
import type { NodeRecord } from '../model/node.js';
import type { Architecture, DistroFamily } from './images.js';

/**
 * The account-level resources of a cloud, which belong to no cluster: key pairs, volumes, images,
 * regions and zones, spot requests and prices, instances and their consoles. Each method returns
 * plain JSON-able data for `--json`. A provider without an account (local) refuses `account()`
 * with `notSupported`.
 */
export interface Account {
  readonly region: string;
  /** How the region was chosen (`--region`, `$AWS_REGION`...). */
  readonly regionSource?: string;

  listKeyPairs(): Promise<KeyPairSummary[]>;
  /**
   * `createkey NAME [-o FILE] [-i PUBKEY]`: creates a key pair and writes its private key to FILE
   * with mode 0600 (refusing to overwrite), or imports an existing public key.
   */
  createKey(options: {
    name: string;
    outputFile?: string;
    importPublicKeyFile?: string;
    io?: IoHost;
  }): Promise<KeyPairSummary & { file?: string; imported: boolean }>;
  removeKey(name: string): Promise<{ name: string; removed: boolean }>;

  listVolumes(filters?: VolumeFilters): Promise<VolumeSummary[]>;
  /** `createvolume SIZE ZONE`: an EBS volume, tagged with the command that formats it on first mount. */
  createVolume(options: CreateVolumeOptions): Promise<VolumeSummary>;
  /** `resizevolume VOL SIZE`: a bigger copy made through a snapshot; the original is kept. */
  resizeVolume(options: ResizeVolumeOptions): Promise<ResizeVolumeResult>;
  /** `removevolume VOL...`: deletes volumes, refusing those attached or in use. */
  removeVolumes(volumeIds: string[]): Promise<{ removed: string[] }>;

  listRegions(): Promise<{ name: string; endpoint?: string }[]>;
  listZones(): Promise<{ name: string; state: string; region: string }[]>;
  /** `listimages`: your own images; with `shared`, also those others share with you. */
  listImages(options?: { shared?: boolean; owners?: string[] }): Promise<ImageSummary[]>;
  showImage(imageId: string): Promise<ImageSummary>;
  /** `listpublic`: every image alias, per architecture, with the image id it resolves to in the region. */
  listPublicImages(): Promise<{ region: string; regionSource?: string; images: PublicImage[] }>;
  /** `ebsimage INSTANCE NAME`: an image of a node, tagged with where it came from, waited for. */
  ebsImage(options: EbsImageOptions): Promise<EbsImageResult>;
  /** `removeimage AMI`: deregisters an image and deletes its snapshots. */
  removeImage(options: RemoveImageOptions): Promise<RemoveImageResult>;

  /** `listspots [-c]`: spot requests, open and active ones (with `showClosed`, all of them). */
  listSpots(options?: { showClosed?: boolean }): Promise<SpotRequestSummary[]>;
  /** `spothistory TYPE [-z ZONE] [-d DAYS]`: current, average, max price over the window. */
  spotHistory(options: SpotHistoryOptions): Promise<SpotHistory>;
  /** `listinstances`: every instance in the region, whoever made it. */
  listInstances(options?: { includeTerminated?: boolean }): Promise<InstanceInfo[]>;
  showConsole(instanceId: string): Promise<{ instanceId: string; output: string }>;

  /** The cloud SDK's client of the account, for `starcluster shell` (e.g. `ec2.send(new Command(...))`). */
  readonly sdkClient: unknown;
  /** Releases the SDK client's sockets. */
  close(): void;
}

export const DEFAULT_MKFS = 'mkfs.ext4';
export const DEFAULT_RESIZEFS = 'resize2fs';

export interface CreateVolumeOptions {
  sizeGb: number;
  zone: string;
  name?: string;
  tags?: Record<string, string>;
  snapshotId?: string;
  /** Format command for the first mount (default mkfs.ext4; none for a volume made from a snapshot). */
  mkfsCmd?: string;
}

export interface ResizeVolumeOptions {
  volumeId: string;
  sizeGb: number;
  zone?: string;
  resizefsCmd?: string;
  io?: IoHost;
  signal?: AbortSignal;
}

export interface SpotHistoryOptions {
  instanceType: string;
  zone?: string;
  days?: number;
  start?: Date;
  end?: Date;
  now?: Date;
}

export interface EbsImageOptions {
  instanceId: string;
  name: string;
  description?: string;
  /** Put on the image's snapshots as their `Description` tag (CreateImage sets their own description). */
  snapshotDescription?: string;
  /** CreateImage NoReboot: image the disk as it is, without the clean reboot EC2 does by default. */
  noReboot?: boolean;
  /** Extra tags on the image and its snapshots. */
  tags?: Record<string, string>;
  io: IoHost;
  signal?: AbortSignal;
  /** Seconds to wait for `available` (default: the provider's wait timeout). */
  waitSeconds?: number;
}

export interface RemoveImageOptions {
  imageId: string;
  /** `-p/--pretend`: say what would be removed, remove nothing. */
  pretend?: boolean;
  /** `-k/--keep-image-data`: deregister only, keep the snapshots. */
  keepImageData?: boolean;
  /** Ask first unless this is set (`-c`). */
  confirm?: boolean;
  io: IoHost;
}

export interface KeyPairSummary {
  name: string;
  fingerprint: string;
  id?: string;
  type?: string;
}

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

export interface ResizeVolumeResult {
  /** The volume that was copied; it is kept, as StarCluster kept it. */
  from: string;
  volume: VolumeSummary;
  /** The temporary snapshot (deleted once the new volume exists). */
  snapshotId: string;
}

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

export interface EbsImageResult {
  imageId: string;
  name: string;
  instanceId: string;
  cluster?: string;
  node?: string;
  state: string;
  snapshotIds: string[];
  architecture?: string;
  rootDeviceName?: string;
}

export interface RemoveImageResult {
  imageId: string;
  name: string;
  removed: boolean;
  pretend: boolean;
  /** Snapshots deleted (or, with pretend, that would be). */
  snapshotIds: string[];
  declined?: boolean;
}

/** An instance of the account, whoever made it (`listinstances`): a node's fields, as JSON. */
export interface InstanceInfo extends Pick<
  NodeRecord,
  'id' | 'instanceType' | 'imageId' | 'zone' | 'privateIp' | 'publicIp' | 'keyName' | 'tags'
> {
  /** Any state of the cloud's, terminated included. */
  state: string;
  /** ISO 8601. */
  launchTime?: string;
  cluster?: string;
  alias?: string;
  securityGroups: string[];
}
