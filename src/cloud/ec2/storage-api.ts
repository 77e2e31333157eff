import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  CreateImageCommand,
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  paginateDescribeSnapshots,
  waitUntilImageAvailable,
  waitUntilSnapshotCompleted,
  type Snapshot,
  DeleteVolumeCommand,
  paginateDescribeVolumes,
  type Filter,
  type Volume,
} from '@aws-sdk/client-ec2';
import { Ec2Calls } from './calls.js';
import { tagSpec } from './errors.js';

/** EBS volumes, snapshots and the images made of them: the storage half of the EC2 API (./api.ts has the rest). */
export class Ec2StorageApi extends Ec2Calls {
  // --- volumes -----------------------------------------------------------------------------

  async describeVolumes(filters: Filter[], volumeIds?: string[]): Promise<Volume[]> {
    return this.collect('DescribeVolumes', async () => {
      const out: Volume[] = [];
      const input = { Filters: filters, ...(volumeIds ? { VolumeIds: volumeIds } : {}) };
      for await (const page of paginateDescribeVolumes({ client: this.client }, input))
        out.push(...(page.Volumes ?? []));
      return out;
    });
  }

  async createVolume(input: {
    sizeGb: number;
    zone: string;
    snapshotId?: string;
    volumeType?: string;
    tags: Record<string, string>;
  }): Promise<Volume> {
    const out = await this.call('CreateVolume', () =>
      this.client.send(
        new CreateVolumeCommand({
          Size: input.sizeGb,
          AvailabilityZone: input.zone,
          ...(input.snapshotId ? { SnapshotId: input.snapshotId } : {}),
          VolumeType: (input.volumeType ?? 'gp3') as 'gp3',
          TagSpecifications: tagSpec('volume', input.tags),
        }),
      ),
    );
    return out;
  }

  async attachVolume(volumeId: string, instanceId: string, device: string): Promise<void> {
    await this.call('AttachVolume', () =>
      this.client.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: device })),
    );
  }

  async deleteVolume(volumeId: string): Promise<void> {
    await this.call('DeleteVolume', () => this.client.send(new DeleteVolumeCommand({ VolumeId: volumeId })));
  }

  // --- images and snapshots (ebsimage, removeimage, resizevolume) ----------------------------

  /** CreateImage from an instance, tags on the image and its snapshots at creation. */
  async createImage(input: {
    instanceId: string;
    name: string;
    description?: string;
    noReboot?: boolean;
    tags: Record<string, string>;
    snapshotTags?: Record<string, string>;
  }): Promise<string> {
    const out = await this.call('CreateImage', () =>
      this.client.send(
        new CreateImageCommand({
          InstanceId: input.instanceId,
          Name: input.name,
          ...(input.description ? { Description: input.description } : {}),
          NoReboot: input.noReboot ?? false,
          TagSpecifications: [
            ...(tagSpec('image', input.tags) ?? []),
            ...(tagSpec('snapshot', input.snapshotTags ?? input.tags) ?? []),
          ],
        }),
      ),
    );
    return out.ImageId ?? '';
  }

  async deregisterImage(imageId: string): Promise<void> {
    await this.call('DeregisterImage', () => this.client.send(new DeregisterImageCommand({ ImageId: imageId })));
  }

  /** A waiter's settings for images and snapshots: polls every 2–15 s, up to `maxWaitSeconds`. */
  private storageWaiter(maxWaitSeconds: number, signal?: AbortSignal) {
    return {
      client: this.client,
      maxWaitTime: maxWaitSeconds,
      minDelay: 2,
      maxDelay: 15,
      ...(signal ? { abortSignal: signal } : {}),
    };
  }

  async waitImageAvailable(imageId: string, maxWaitSeconds: number, signal?: AbortSignal): Promise<void> {
    await this.call('wait for image available', () =>
      waitUntilImageAvailable(this.storageWaiter(maxWaitSeconds, signal), { ImageIds: [imageId] }),
    );
  }

  async describeSnapshots(input: {
    snapshotIds?: string[];
    filters?: Filter[];
    owners?: string[];
  }): Promise<Snapshot[]> {
    return this.collect('DescribeSnapshots', async () => {
      const out: Snapshot[] = [];
      const pages = paginateDescribeSnapshots(
        { client: this.client },
        {
          ...(input.snapshotIds ? { SnapshotIds: input.snapshotIds } : {}),
          ...(input.filters ? { Filters: input.filters } : {}),
          ...(input.owners ? { OwnerIds: input.owners } : {}),
        },
      );
      for await (const page of pages) out.push(...(page.Snapshots ?? []));
      return out;
    });
  }

  async createSnapshot(volumeId: string, description: string, tags: Record<string, string>): Promise<Snapshot> {
    return this.call('CreateSnapshot', () =>
      this.client.send(
        new CreateSnapshotCommand({
          VolumeId: volumeId,
          Description: description,
          TagSpecifications: tagSpec('snapshot', tags),
        }),
      ),
    );
  }

  async waitSnapshotCompleted(snapshotId: string, maxWaitSeconds: number, signal?: AbortSignal): Promise<void> {
    await this.call('wait for snapshot completed', () =>
      waitUntilSnapshotCompleted(this.storageWaiter(maxWaitSeconds, signal), { SnapshotIds: [snapshotId] }),
    );
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.call('DeleteSnapshot', () => this.client.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
  }
}
