import { CloudError, UsageError } from '../../errors.js';
import { TAG_MKFS, TAG_RESIZEFS } from '../../model/tags.js';
import {
  DEFAULT_MKFS,
  DEFAULT_RESIZEFS,
  type CreateVolumeOptions,
  type ResizeVolumeOptions,
  type ResizeVolumeResult,
  type VolumeFilters,
  type VolumeSummary,
} from '../account.js';
import type { AccountContext } from './account.js';
import { fromTags, isCode } from './errors.js';

/** EBS volumes of the account: `listvolumes`, `createvolume`, `resizevolume`, `removevolume`. */

export async function listVolumes(c: AccountContext, f: VolumeFilters = {}): Promise<VolumeSummary[]> {
  const filters = [
    ...(f.name ? [{ Name: 'tag:Name', Values: [f.name] }] : []),
    ...(f.size !== undefined ? [{ Name: 'size', Values: [String(f.size)] }] : []),
    ...(f.status ? [{ Name: 'status', Values: [f.status] }] : []),
    ...(f.attachStatus ? [{ Name: 'attachment.status', Values: [f.attachStatus] }] : []),
    ...(f.zone ? [{ Name: 'availability-zone', Values: [f.zone] }] : []),
    ...(f.snapshotId ? [{ Name: 'snapshot-id', Values: [f.snapshotId] }] : []),
    ...Object.entries(f.tag ?? {}).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
  ];
  const volumes = await c.api
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

/**
 * `createvolume SIZE ZONE [-n NAME] [-t k=v] [-m MKFS]`: an EBS volume, tagged with the command
 * that formats it. StarCluster started a host instance to attach and format it; here formatting
 * is node-setup work, done when a cluster first mounts the blank volume (see TAG_MKFS).
 */
export async function createVolume(c: AccountContext, target: CreateVolumeOptions): Promise<VolumeSummary> {
  if (!Number.isInteger(target.sizeGb) || target.sizeGb < 1)
    throw new UsageError('VolumeSize', `volume size ${target.sizeGb} must be a whole number of GiB, at least 1`);
  await requireZone(c, target.zone);
  const v = await c.api.createVolume({
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

/**
 * `resizevolume VOL SIZE [-z ZONE] [-r RESIZEFS]`: snapshot the volume, make a bigger one from the
 * snapshot (in ZONE, default the volume's own), delete the snapshot. The old volume is kept. The
 * filesystem grows when a cluster next mounts the new volume (TAG_RESIZEFS), where StarCluster ran
 * resize2fs on a host instance of its own.
 */
export async function resizeVolume(c: AccountContext, target: ResizeVolumeOptions): Promise<ResizeVolumeResult> {
  if (!Number.isInteger(target.sizeGb) || target.sizeGb < 1)
    throw new UsageError('VolumeSize', `volume size ${target.sizeGb} must be a whole number of GiB, at least 1`);
  const [volume] = await c.api.describeVolumes([], [target.volumeId]).catch((error: unknown) => {
    if (isCode(error, 'InvalidVolume.NotFound', 'InvalidVolumeID.Malformed')) return [];
    throw error;
  });
  if (!volume) throw new CloudError('VolumeNotFound', `volume ${target.volumeId} does not exist in ${c.region}`);
  if ((volume.Size ?? 0) >= target.sizeGb)
    throw new UsageError(
      'VolumeNotLarger',
      `volume ${target.volumeId} is ${volume.Size} GiB: the new size must be larger (EBS volumes cannot shrink)`,
    );
  const zone = target.zone ?? volume.AvailabilityZone ?? '';
  await requireZone(c, zone);
  const snapshot = await c.api.createSnapshot(target.volumeId, `starcluster resizevolume ${target.volumeId}`, {
    'starcluster:resize-of': target.volumeId,
  });
  const snapshotId = snapshot.SnapshotId ?? '';
  try {
    await c.api.waitSnapshotCompleted(snapshotId, c.waitTimeoutSeconds, target.signal);
    const tags = fromTags(volume.Tags);
    delete tags[TAG_MKFS];
    const made = await c.api.createVolume({
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
    await c.api.deleteSnapshot(snapshotId).catch(() => undefined);
  }
}

/** `removevolume VOL...`: deletes volumes, refusing those attached or in use. */
export async function removeVolumes(c: AccountContext, volumeIds: string[]): Promise<{ removed: string[] }> {
  const volumes = await c.api.describeVolumes([], volumeIds).catch((error: unknown) => {
    if (isCode(error, 'InvalidVolume.NotFound'))
      throw new CloudError('VolumeNotFound', `volume ${volumeIds.join(', ')} does not exist in ${c.region}`);
    throw error;
  });
  const busy = volumes.filter((v) => v.State !== 'available');
  if (busy.length)
    throw new CloudError(
      'VolumeInUse',
      `volume ${busy.map((v) => `${v.VolumeId} (${v.State})`).join(', ')} is not available: detach it first`,
    );
  for (const v of volumes) await c.api.deleteVolume(v.VolumeId ?? '');
  return { removed: volumes.map((v) => v.VolumeId ?? '') };
}

/** A zone of the region (when the endpoint lists zones at all), else UnknownZone naming the ones there are. */
async function requireZone(c: AccountContext, zone: string): Promise<void> {
  const zones = await c.api.describeAvailabilityZones().catch(() => []);
  if (zones.length && !zones.some((z) => z.ZoneName === zone))
    throw new UsageError(
      'UnknownZone',
      `availability zone ${zone} does not exist in ${c.region} (zones: ${zones.map((z) => z.ZoneName).join(', ')})`,
    );
}
