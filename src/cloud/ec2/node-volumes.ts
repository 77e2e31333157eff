import { deadlineIn, type Clock } from '../../clock.js';
import { CloudError, throwIfAborted } from '../../errors.js';
import type { NodeVolumes } from '../provider.js';
import type { Ec2Api } from './api.js';
import { fromTags } from './errors.js';

/** EBS volumes attached to a cluster's nodes (node setup mounts them on the master: src/setup/volumes.ts). */
export class Ec2NodeVolumes implements NodeVolumes {
  constructor(
    private readonly api: Ec2Api,
    /** Longest wait for an attachment, seconds (the provider's wait timeout). */
    private readonly waitTimeoutSeconds: number,
    private readonly clock: Clock,
  ) {}

  async attach(volumeId: string, instanceId: string, device: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.api.attachVolume(volumeId, instanceId, device);
  }

  async tags(volumeId: string): Promise<Record<string, string>> {
    const [volume] = await this.api.describeVolumes([], [volumeId]);
    return fromTags(volume?.Tags);
  }

  /** Polls (0.5 s doubling to 5 s) until the volume reports `attached` to the instance, within the wait timeout. */
  async waitAttached(volumeId: string, instanceId: string, signal?: AbortSignal): Promise<void> {
    const deadline = deadlineIn(this.waitTimeoutSeconds * 1000, this.clock);
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      throwIfAborted(signal);
      const [volume] = await this.api.describeVolumes([], [volumeId]);
      const attachment = volume?.Attachments?.find((a) => a.InstanceId === instanceId);
      if (attachment?.State === 'attached') return;
      if (delay > deadline.remaining())
        throw new CloudError(
          'VolumeAttachTimeout',
          `volume ${volumeId} did not attach to ${instanceId} within ${this.waitTimeoutSeconds} s (state: ${attachment?.State ?? volume?.State ?? 'unknown'}); check it with \`starcluster listvolumes -v ${volumeId}\``,
        );
      await this.clock.sleep(delay, signal);
    }
  }
}
