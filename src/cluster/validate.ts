import { stat, readFile } from 'node:fs/promises';
import type { ClusterTemplate } from '../config/types.js';
import type { StarclusterError } from '../errors.js';
import { CloudError, ConfigError } from '../errors.js';
import type { Ec2Provider } from '../cloud/ec2/provider.js';
import { fingerprintMatches, fingerprintsOfPrivateKey } from '../cloud/ec2/fingerprint.js';
import { isCode } from '../cloud/ec2/api.js';
import type { LaunchProblem } from '../cloud/provider.js';
import type { NodeShape } from './launch-plan.js';
import { checkPlugins } from '../setup/plugin-loader.js';

/**
 * Everything `start` checks before it creates anything, all reported at once (StarCluster's
 * ClusterValidator, plus ParallelCluster's habit of listing every failure). A problem is `config`
 * when the fix is in the config file or on this machine (exit 3), `cloud` when the config names
 * something the cloud does not have (exit 4); the error's exit code is 3 when any problem is
 * `config`.
 */
export type Problem = LaunchProblem;

export function problemsError(cluster: string, problems: readonly Problem[]): StarclusterError {
  const details = problems.map((p) => p.message);
  const message = `cluster "${cluster}" is not valid: ${problems.length} problem${problems.length === 1 ? '' : 's'} found, nothing was created`;
  const first = problems[0]?.code ?? 'Invalid';
  const code = problems.length === 1 ? first : 'ClusterValidationFailed';
  return problems.some((p) => p.kind === 'config')
    ? new ConfigError(code, message, { details })
    : new CloudError(code, message, { details });
}

/** Checks that need no cloud: required settings, sizes, the key file and its mode. */
export async function validateOffline(template: ClusterTemplate, shapes: readonly NodeShape[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  const add = (code: string, message: string): void => void problems.push({ kind: 'config', code, message });
  if (!Number.isInteger(template.clusterSize) || template.clusterSize < 1)
    add('ClusterSize', `CLUSTER_SIZE ${template.clusterSize} must be a whole number of at least 1`);
  const explicit = template.nodeInstanceTypes.reduce((n, t) => n + t.count, 0);
  if (explicit > Math.max(0, template.clusterSize - 1))
    add(
      'InstanceTypeCounts',
      `NODE_INSTANCE_TYPE counts add up to ${explicit}, more than the ${template.clusterSize - 1} worker nodes of CLUSTER_SIZE ${template.clusterSize}`,
    );
  if (template.spotBid !== undefined && !(template.spotBid > 0))
    add('SpotBid', `SPOT_BID ${template.spotBid} must be a price above 0 (USD per hour)`);
  // A plugin that cannot be loaded fails here, before anything is created (not after launch).
  for (const problem of (await checkPlugins(template.plugins)).problems) add('PluginInvalid', problem);
  if (template.provider !== 'ec2') return problems;

  for (const s of shapes) {
    if (!s.imageId)
      add('MissingImage', `${s.alias} has no AMI: set NODE_IMAGE_ID (and MASTER_IMAGE_ID if the master differs)`);
    if (!s.instanceType)
      add('MissingInstanceType', `${s.alias} has no instance type: set NODE_INSTANCE_TYPE (or MASTER_INSTANCE_TYPE)`);
  }
  if (!template.keyname) add('MissingKeyname', `KEYNAME is not set: name a [key NAME] section`);
  const location = template.key?.location;
  if (template.keyname && !location)
    add('MissingKeyLocation', `[key ${template.keyname}] has no KEY_LOCATION: set it to the private key file`);
  if (location) {
    try {
      const info = await stat(location);
      const mode = info.mode & 0o777;
      if (!info.isFile()) add('KeyFileNotFile', `KEY_LOCATION ${location} is not a file`);
      else if ((mode & 0o077) !== 0)
        add(
          'KeyFileMode',
          `KEY_LOCATION ${location} has mode ${mode.toString(8).padStart(4, '0')}: others can read it; run \`chmod 600 ${location}\``,
        );
    } catch {
      add('KeyFileMissing', `KEY_LOCATION ${location} does not exist: fix the path in [key ${template.keyname ?? ''}]`);
    }
  }
  return problems;
}

/**
 * Checks against EC2: the key pair and its fingerprint, the zone, the subnet, the volumes (in the
 * zone). Every lookup runs even when another failed. AMIs and instance types (and whether they fit
 * together) are the provider's: see Provider.resolveImages and resolveShapeImages.
 */
export async function validateCloud(
  template: ClusterTemplate,
  ec2: Ec2Provider,
  keyFileOk: boolean,
  /** Instances of the cluster being resumed: a volume attached to one of them is in use by it, not taken. */
  ownInstances: ReadonlySet<string> = new Set(),
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const add = (kind: Problem['kind'], code: string, message: string): void =>
    void problems.push({ kind, code, message });
  const region = ec2.region;
  const api = ec2.api;

  const checks: Promise<void>[] = [];

  // Key pair and fingerprint.
  if (template.keyname) {
    const keyname = template.keyname;
    checks.push(
      api.findKeyPair(keyname).then(async (pair) => {
        if (!pair) {
          add(
            'cloud',
            'KeyPairNotFound',
            `key pair ${keyname} does not exist in ${region}: create it with \`starcluster createkey ${keyname} -o FILE\` or import your public key`,
          );
          return;
        }
        if (!keyFileOk || !template.key?.location || !pair.KeyFingerprint) return;
        const location = template.key.location;
        let pem: string;
        try {
          pem = await readFile(location, 'utf8');
        } catch {
          return; // reported offline
        }
        // OpenSSH-format private keys (LocalStack's ED25519 pairs) are not readable by node:crypto.
        if (pem.includes('BEGIN OPENSSH PRIVATE KEY')) return;
        let matches: boolean;
        try {
          matches = fingerprintMatches(pair.KeyFingerprint, fingerprintsOfPrivateKey(pem));
        } catch {
          add('config', 'KeyFileUnreadable', `KEY_LOCATION ${location} is not a PEM private key that can be read`);
          return;
        }
        if (!matches)
          add(
            'cloud',
            'KeyFingerprintMismatch',
            `KEY_LOCATION ${location} is not the private key of key pair ${keyname} (EC2 fingerprint ${pair.KeyFingerprint}): point KEY_LOCATION at that pair's key`,
          );
      }),
    );
  }

  // Zone.
  const zone = template.availabilityZone;
  if (zone) {
    checks.push(
      api.describeAvailabilityZones([zone]).then(
        (found) => {
          const z = found.find((x) => x.ZoneName === zone);
          if (!z)
            add(
              'cloud',
              'UnknownZone',
              `availability zone ${zone} does not exist in ${region}: see \`starcluster listzones\``,
            );
          else if (z.State && z.State !== 'available')
            add('cloud', 'ZoneNotAvailable', `availability zone ${zone} is ${z.State}`);
        },
        (error: unknown) => {
          if (isCode(error, 'InvalidParameterValue', 'InvalidZone.NotFound'))
            add(
              'cloud',
              'UnknownZone',
              `availability zone ${zone} does not exist in ${region}: see \`starcluster listzones\``,
            );
          else throw error;
        },
      ),
    );
  }

  // Subnet (and its zone).
  if (template.subnetId) {
    const subnetId = template.subnetId;
    checks.push(
      api.describeSubnets([subnetId]).then(
        (found) => {
          const s = found[0];
          if (!s) add('cloud', 'SubnetNotFound', `SUBNET_ID ${subnetId} does not exist in ${region}`);
          else if (zone && s.AvailabilityZone && s.AvailabilityZone !== zone)
            add(
              'config',
              'SubnetZone',
              `SUBNET_ID ${subnetId} is in ${s.AvailabilityZone}, not AVAILABILITY_ZONE ${zone}`,
            );
        },
        (error: unknown) => {
          if (isCode(error, 'InvalidSubnetID.NotFound', 'InvalidSubnetID.Malformed'))
            add('cloud', 'SubnetNotFound', `SUBNET_ID ${subnetId} does not exist in ${region}`);
          else throw error;
        },
      ),
    );
  }

  // Volumes exist, are available, and share the zone.
  for (const v of template.volumes) {
    checks.push(
      api.describeVolumes([], [v.volumeId]).then(
        (found) => {
          const vol = found[0];
          if (!vol) {
            add('cloud', 'VolumeNotFound', `[volume ${v.name}] VOLUME_ID ${v.volumeId} does not exist in ${region}`);
            return;
          }
          const ours =
            vol.State === 'in-use' &&
            (vol.Attachments ?? []).length > 0 &&
            (vol.Attachments ?? []).every((a) => a.InstanceId !== undefined && ownInstances.has(a.InstanceId));
          if (vol.State && vol.State !== 'available' && !ours)
            add('cloud', 'VolumeInUse', `[volume ${v.name}] ${v.volumeId} is ${vol.State}, not available`);
          if (zone && vol.AvailabilityZone && vol.AvailabilityZone !== zone)
            add(
              'config',
              'VolumeZone',
              `[volume ${v.name}] ${v.volumeId} is in ${vol.AvailabilityZone}, not AVAILABILITY_ZONE ${zone}`,
            );
        },
        (error: unknown) => {
          if (isCode(error, 'InvalidVolume.NotFound', 'InvalidVolumeID.Malformed'))
            add('cloud', 'VolumeNotFound', `[volume ${v.name}] VOLUME_ID ${v.volumeId} does not exist in ${region}`);
          else throw error;
        },
      ),
    );
  }
  const results = await Promise.allSettled(checks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return problems;
}
