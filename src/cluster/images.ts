import { ec2Of, createProvider } from '../cloud/index.js';
import { TAG_CLUSTER, type Provider } from '../cloud/provider.js';
import type { StarclusterConfig } from '../config/types.js';
import { CloudError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import { runSteps, type Step } from '../steps.js';
import { fromTags, isCode, isNotImplemented } from '../cloud/ec2/api.js';
import type { Ec2Provider } from '../cloud/ec2/provider.js';

/**
 * AMIs made from running nodes, as StarCluster users saved their software stack: `ebsimage`
 * (CreateImage, tagged, waited for, so the id works as NODE_IMAGE_ID at once) and `removeimage`
 * (deregister, and delete the root snapshots unless kept).
 */

/** Tags every image `ebsimage` makes (and its snapshots) carry. */
export const TAG_IMAGE_OF = 'starcluster:image-of';
export const TAG_IMAGE_CLUSTER = 'starcluster:image-cluster';
export const TAG_IMAGE_NODE = 'starcluster:image-node';

export interface ImageTarget {
  config?: StarclusterConfig;
  provider?: Provider;
}

async function ec2Provider(target: ImageTarget): Promise<Ec2Provider> {
  const provider = target.provider ?? (await createProvider(undefined, target.config, { kind: 'ec2' }));
  const e = ec2Of(provider);
  if (!e) throw new UsageError('NotEc2', 'images exist on EC2 only');
  return e;
}

export interface EbsImageOptions extends ImageTarget {
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

interface EbsImageState {
  imageId?: string;
  /** The endpoint could not tag snapshots at creation (LocalStack): tag them once the image exists. */
  snapshotTags?: Record<string, string>;
  instance?: { cluster?: string; alias?: string; rootDeviceType?: string };
}

/**
 * `ebsimage INSTANCE NAME`: CreateImage from a running (or stopped) EBS-backed instance, tagged
 * with where it came from, then waits until EC2 says `available`. Ctrl-C or a failure while
 * waiting deregisters the half-made image and deletes its snapshots.
 */
export async function ebsImage(opts: EbsImageOptions): Promise<EbsImageResult> {
  const e = await ec2Provider(opts);
  const state: EbsImageState = {};
  const steps: Step<EbsImageState>[] = [
    {
      id: 'inspect',
      title: `Looking at ${opts.instanceId}`,
      run: async (s) => {
        const found = await e.api.describeInstances([], [opts.instanceId]).catch((error: unknown) => {
          if (isCode(error, 'InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed')) return [];
          throw error;
        });
        const instance = found[0];
        if (!instance || instance.State?.Name === 'terminated' || instance.State?.Name === 'shutting-down')
          throw new CloudError('InstanceNotFound', `instance ${opts.instanceId} does not exist in ${e.region}`, {
            hint: 'see `starcluster listinstances`',
          });
        if (instance.RootDeviceType === 'instance-store')
          throw new UsageError(
            'InstanceStoreRoot',
            `instance ${opts.instanceId} boots from instance store: only EBS-backed instances can be imaged (StarCluster's s3image world is gone)`,
          );
        // AWS refuses a second image of the same name in an account and region; say so before making anything.
        const taken = await e.api.describeImages({
          owners: ['self'],
          filters: [{ Name: 'name', Values: [opts.name] }],
        });
        if (taken.length)
          throw new UsageError(
            'ImageNameTaken',
            `an image named ${opts.name} already exists (${taken.map((i) => i.ImageId).join(', ')}): choose another name`,
            { hint: 'see `starcluster listimages`' },
          );
        const tags = fromTags(instance.Tags);
        s.instance = {
          ...(tags[TAG_CLUSTER] ? { cluster: tags[TAG_CLUSTER] } : {}),
          ...(tags['starcluster:alias'] ? { alias: tags['starcluster:alias'] } : {}),
        };
      },
    },
    {
      id: 'create-image',
      title: `Creating image ${opts.name}`,
      run: async (s, report) => {
        const origin: Record<string, string> = {
          [TAG_IMAGE_OF]: opts.instanceId,
          ...(s.instance?.cluster ? { [TAG_IMAGE_CLUSTER]: s.instance.cluster } : {}),
          ...(s.instance?.alias ? { [TAG_IMAGE_NODE]: s.instance.alias } : {}),
          Name: opts.name,
          ...(opts.tags ?? {}),
        };
        const request = {
          instanceId: opts.instanceId,
          name: opts.name,
          ...(opts.description ? { description: opts.description } : {}),
          noReboot: opts.noReboot ?? false,
          tags: origin,
        };
        const snapshotTags = {
          ...origin,
          ...(opts.snapshotDescription ? { Description: opts.snapshotDescription } : {}),
        };
        try {
          s.imageId = await e.api.createImage({ ...request, snapshotTags }).catch(async (error: unknown) => {
            // LocalStack's EC2 cannot tag snapshots in CreateImage; AWS can. Tag them afterwards there.
            if (!isNotImplemented(error)) throw error;
            s.snapshotTags = snapshotTags;
            return e.api.createImage({ ...request, snapshotTags: {} });
          });
        } catch (error) {
          if (isCode(error, 'InvalidAMIName.Duplicate'))
            throw new UsageError('ImageNameTaken', `an image named ${opts.name} already exists: choose another name`, {
              cause: error,
              hint: 'see `starcluster listimages`',
            });
          throw error;
        }
        report({ detail: s.imageId });
      },
      rollback: async (s) => {
        if (s.imageId) await deleteImage(e, s.imageId, false);
      },
    },
    {
      id: 'wait-image',
      title: 'Waiting for the image to become available',
      run: async (s, report, signal) => {
        await e.api.waitImageAvailable(s.imageId ?? '', opts.waitSeconds ?? e.waitTimeoutSeconds, signal);
        if (s.snapshotTags) {
          const [image] = await e.api.describeImages({ imageIds: [s.imageId ?? ''] });
          await e.api.createTags(snapshotsOf(image), s.snapshotTags);
        }
        report({ detail: `${s.imageId} available` });
      },
    },
  ];
  await runSteps(steps, state, { io: opts.io, ...(opts.signal ? { signal: opts.signal } : {}) });
  const [image] = await e.api.describeImages({ imageIds: [state.imageId ?? ''] });
  return {
    imageId: state.imageId ?? '',
    name: opts.name,
    instanceId: opts.instanceId,
    ...(state.instance?.cluster ? { cluster: state.instance.cluster } : {}),
    ...(state.instance?.alias ? { node: state.instance.alias } : {}),
    state: image?.State ?? 'available',
    snapshotIds: snapshotsOf(image),
    ...(image?.Architecture ? { architecture: image.Architecture } : {}),
    ...(image?.RootDeviceName ? { rootDeviceName: image.RootDeviceName } : {}),
  };
}

function snapshotsOf(image: { BlockDeviceMappings?: { Ebs?: { SnapshotId?: string } }[] } | undefined): string[] {
  return (image?.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
}

/** Deregisters an image and (unless `keepData`) deletes its snapshots; returns the snapshots it deleted. */
async function deleteImage(e: Ec2Provider, imageId: string, keepData: boolean): Promise<string[]> {
  const [image] = await e.api.describeImages({ imageIds: [imageId] }).catch(() => []);
  const snapshots = new Set(snapshotsOf(image));
  // Snapshots CreateImage tagged for this image, in case the mapping does not name them.
  if (!keepData) {
    const tagged = await e.api
      .describeSnapshots({ filters: [{ Name: 'description', Values: [`*${imageId}*`] }], owners: ['self'] })
      .catch(() => []);
    for (const snap of tagged) if (snap.SnapshotId) snapshots.add(snap.SnapshotId);
  }
  await e.api.deregisterImage(imageId).catch((error: unknown) => {
    if (!isCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable')) throw error;
  });
  if (keepData) return [];
  const deleted: string[] = [];
  for (const id of snapshots) {
    await e.api.deleteSnapshot(id).then(
      () => deleted.push(id),
      (error: unknown) => {
        if (!isCode(error, 'InvalidSnapshot.NotFound')) throw error;
      },
    );
  }
  return deleted;
}

export interface RemoveImageOptions extends ImageTarget {
  imageId: string;
  /** `-p/--pretend`: say what would be removed, remove nothing. */
  pretend?: boolean;
  /** `-k/--keep-image-data`: deregister only, keep the snapshots. */
  keepImageData?: boolean;
  /** Ask first unless this is set (`-c`). */
  confirm?: boolean;
  io: IoHost;
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

/** `removeimage AMI`: deregister an image you own and delete its root snapshots (StarCluster's "image data"). */
export async function removeImage(opts: RemoveImageOptions): Promise<RemoveImageResult> {
  const e = await ec2Provider(opts);
  const images = await e.api.describeImages({ imageIds: [opts.imageId] }).catch((error: unknown) => {
    if (isCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed')) return [];
    throw error;
  });
  const image = images[0];
  if (!image) throw new CloudError('ImageNotFound', `AMI ${opts.imageId} does not exist in ${e.region}`);
  const name = image.Name ?? '';
  const snapshots = opts.keepImageData ? [] : snapshotsOf(image);
  if (opts.pretend) return { imageId: opts.imageId, name, removed: false, pretend: true, snapshotIds: snapshots };
  if (
    !opts.confirm &&
    !(await opts.io.requestConfirm(
      `Deregister ${opts.imageId} (${name})${snapshots.length ? ` and delete snapshot(s) ${snapshots.join(', ')}` : ''}?`,
      false,
    ))
  )
    return { imageId: opts.imageId, name, removed: false, pretend: false, snapshotIds: [], declined: true };
  const deleted = await deleteImage(e, opts.imageId, Boolean(opts.keepImageData));
  return { imageId: opts.imageId, name, removed: true, pretend: false, snapshotIds: deleted };
}
