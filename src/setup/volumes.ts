import { notSupported, type NodeVolumes, type Provider } from '../cloud/provider.js';
import type { VolumeSettings } from '../config/types.js';

/** The provider's volumes capability, for a template with VOLUMES; a provider without one refuses it. */
export function nodeVolumes(provider: Provider): NodeVolumes {
  if (!provider.volumes)
    throw notSupported(provider.kind, 'cannot attach volumes to nodes', 'remove VOLUMES from the template');
  return provider.volumes;
}

/** StarCluster's device choice when [volume] gives none: /dev/sdz, /dev/sdy... (clear of ephemeral disks). */
export function deviceFor(volume: VolumeSettings, index: number): string {
  return volume.device ?? `/dev/sd${String.fromCharCode('z'.charCodeAt(0) - index)}`;
}
