import type { Provider } from '../cloud/provider.js';
import { CloudError } from '../errors.js';
import type { VolumeSettings } from '../config/types.js';

/**
 * What setup needs from a provider to use EBS volumes. Optional on Provider: the EC2 provider
 * implements it; a provider without it cannot start a template with VOLUMES.
 */
export interface VolumeAttacher {
  attachVolume(volumeId: string, instanceId: string, device: string, signal?: AbortSignal): Promise<void>;
  /** Resolves once the volume is `attached` to the instance (or fails naming it). */
  waitVolumeAttached(volumeId: string, instanceId: string, signal?: AbortSignal): Promise<void>;
  /** The volume's tags (createvolume's `starcluster:mkfs`, resizevolume's `starcluster:resizefs`). */
  volumeTags?(volumeId: string): Promise<Record<string, string>>;
}

/** How a blank volume is formatted (createvolume's `-m`), and how a grown one's filesystem is grown. */
export const TAG_MKFS = 'starcluster:mkfs';
export const TAG_RESIZEFS = 'starcluster:resizefs';

export function volumeAttacher(provider: Provider): VolumeAttacher {
  const candidate = provider as Provider & Partial<VolumeAttacher>;
  if (typeof candidate.attachVolume !== 'function' || typeof candidate.waitVolumeAttached !== 'function') {
    throw new CloudError(
      'VolumesUnsupported',
      `the ${provider.kind} provider cannot attach volumes: remove VOLUMES from the template`,
    );
  }
  return candidate as VolumeAttacher;
}

/** StarCluster's device choice when [volume] gives none: /dev/sdz, /dev/sdy... (clear of ephemeral disks). */
export function deviceFor(volume: VolumeSettings, index: number): string {
  return volume.device ?? `/dev/sd${String.fromCharCode('z'.charCodeAt(0) - index)}`;
}
