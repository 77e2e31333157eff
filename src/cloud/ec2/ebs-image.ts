import { CloudError, UsageError } from '../../errors.js';
import { TAG_ALIAS, TAG_CLUSTER } from '../../model/tags.js';
import { runSteps, type Step } from '../../steps.js';
import type { EbsImageOptions, EbsImageResult, RemoveImageOptions, RemoveImageResult } from '../account.js';
import type { AccountContext } from './account.js';
import { fromTags, isCode, isNotImplemented } from './errors.js';

/**
 * AMIs made from running nodes, as StarCluster users saved their software stack: `ebsimage`
 * (CreateImage, tagged, waited for, so the id works as NODE_IMAGE_ID at once) and `removeimage`
 * (deregister, and delete the root snapshots unless kept).
 */

/** Tags every image `ebsimage` makes (and its snapshots) carry. */
export const TAG_IMAGE_OF = 'starcluster:image-of';
export const TAG_IMAGE_CLUSTER = 'starcluster:image-cluster';
export const TAG_IMAGE_NODE = 'starcluster:image-node';

interface EbsImageState {
  imageId?: string;
  /** The endpoint could not tag snapshots at creation (LocalStack): tag them once the image exists. */
  snapshotTags?: Record<string, string>;
  instance?: { cluster?: string; alias?: string; rootDeviceType?: string };
}

/** The instance to image, if it can be: it exists, boots from EBS, and the name is free. */
async function inspectInstance(c: AccountContext, opts: EbsImageOptions): Promise<EbsImageState['instance']> {
  const found = await c.api.describeInstances([], [opts.instanceId]).catch((error: unknown) => {
    if (isCode(error, 'InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed')) return [];
    throw error;
  });
  const instance = found[0];
  if (!instance || instance.State?.Name === 'terminated' || instance.State?.Name === 'shutting-down')
    throw new CloudError('InstanceNotFound', `instance ${opts.instanceId} does not exist in ${c.region}`, {
      hint: 'see `starcluster listinstances`',
    });
  if (instance.RootDeviceType === 'instance-store')
    throw new UsageError(
      'InstanceStoreRoot',
      `instance ${opts.instanceId} boots from instance store: only EBS-backed instances can be imaged (StarCluster's s3image world is gone)`,
    );
  // AWS refuses a second image of the same name in an account and region; say so before making anything.
  const taken = await c.api.describeImages({
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
  return {
    ...(tags[TAG_CLUSTER] ? { cluster: tags[TAG_CLUSTER] } : {}),
    ...(tags[TAG_ALIAS] ? { alias: tags[TAG_ALIAS] } : {}),
  };
}

/**
 * `ebsimage INSTANCE NAME`: CreateImage from a running (or stopped) EBS-backed instance, tagged
 * with where it came from, then waits until EC2 says `available`. Ctrl-C or a failure while
 * waiting deregisters the half-made image and deletes its snapshots.
 */
export async function ebsImage(c: AccountContext, opts: EbsImageOptions): Promise<EbsImageResult> {
  const e = c;
  const state: EbsImageState = {};
  const steps: Step<EbsImageState>[] = [
    {
      id: 'inspect',
      title: `Looking at ${opts.instanceId}`,
      run: async (s) => {
        s.instance = await inspectInstance(c, opts);
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
async function deleteImage(e: AccountContext, imageId: string, keepData: boolean): Promise<string[]> {
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

/** `removeimage AMI`: deregister an image you own and delete its root snapshots (StarCluster's "image data"). */
export async function removeImage(c: AccountContext, opts: RemoveImageOptions): Promise<RemoveImageResult> {
  const e = c;
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
