import { readFile, stat } from 'node:fs/promises';
import type { ClusterTemplate, VolumeSettings } from '../../config/types.js';
import type { LaunchProblem, LaunchShape, TemplateCheckOptions } from '../provider.js';
import { type Ec2Api } from './api.js';
import { isCode } from './errors.js';
import { noDefaultVpcProblem } from './networks.js';
import { fingerprintMatches, fingerprintsOfPrivateKey } from './fingerprint.js';

/**
 * What `start` checks of a template for EC2 before it creates anything, every problem at once
 * (StarCluster's ClusterValidator, plus ParallelCluster's habit of listing every failure). A
 * problem is `config` when the fix is in the config file or on this machine (exit 3), `cloud` when
 * the config names something the account does not have (exit 4). AMIs and instance types (and
 * whether they fit together) are resolveImages' (./images.ts).
 */

type Add = (kind: LaunchProblem['kind'], code: string, message: string) => void;

/** Checks that need no call to EC2: images and types named, the key pair named, its file there and private. */
export async function checkEc2Template(
  template: ClusterTemplate,
  shapes: readonly LaunchShape[],
): Promise<LaunchProblem[]> {
  const problems: LaunchProblem[] = [];
  const add = (code: string, message: string): void => void problems.push({ kind: 'config', code, message });
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
 * zone). Every lookup runs even when another failed.
 */
export async function validateEc2Template(
  api: Ec2Api,
  template: ClusterTemplate,
  options: TemplateCheckOptions,
): Promise<LaunchProblem[]> {
  const problems: LaunchProblem[] = [];
  const add: Add = (kind, code, message) => void problems.push({ kind, code, message });
  const zone = template.availabilityZone;
  const checks: Promise<void>[] = [];
  if (template.keyname) checks.push(checkKeyPair(api, template, template.keyname, options.keyFileOk, add));
  if (zone) checks.push(checkZone(api, zone, add));
  if (template.subnetId) checks.push(checkSubnet(api, template.subnetId, zone, add));
  // No subnet: the default VPC must exist (an account can have none).
  else
    checks.push(
      noDefaultVpcProblem(api).then((p) => {
        if (p) problems.push(p);
      }),
    );
  for (const v of template.volumes) checks.push(checkVolume(api, v, zone, options.ownInstances ?? new Set(), add));
  const results = await Promise.allSettled(checks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return problems;
}

async function checkKeyPair(
  api: Ec2Api,
  template: ClusterTemplate,
  keyname: string,
  keyFileOk: boolean,
  add: Add,
): Promise<void> {
  const pair = await api.findKeyPair(keyname);
  if (!pair) {
    add(
      'cloud',
      'KeyPairNotFound',
      `key pair ${keyname} does not exist in ${api.region}: create it with \`starcluster createkey ${keyname} -o FILE\` or import your public key`,
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
}

async function checkZone(api: Ec2Api, zone: string, add: Add): Promise<void> {
  const unknown = (): void =>
    add(
      'cloud',
      'UnknownZone',
      `availability zone ${zone} does not exist in ${api.region}: see \`starcluster listzones\``,
    );
  let found;
  try {
    found = await api.describeAvailabilityZones([zone]);
  } catch (error) {
    if (!isCode(error, 'InvalidParameterValue', 'InvalidZone.NotFound')) throw error;
    return unknown();
  }
  const z = found.find((x) => x.ZoneName === zone);
  if (!z) unknown();
  else if (z.State && z.State !== 'available')
    add('cloud', 'ZoneNotAvailable', `availability zone ${zone} is ${z.State}`);
}

async function checkSubnet(api: Ec2Api, subnetId: string, zone: string | undefined, add: Add): Promise<void> {
  const missing = (): void => add('cloud', 'SubnetNotFound', `SUBNET_ID ${subnetId} does not exist in ${api.region}`);
  let found;
  try {
    found = await api.describeSubnets([subnetId]);
  } catch (error) {
    if (!isCode(error, 'InvalidSubnetID.NotFound', 'InvalidSubnetID.Malformed')) throw error;
    return missing();
  }
  const s = found[0];
  if (!s) missing();
  else if (zone && s.AvailabilityZone && s.AvailabilityZone !== zone)
    add('config', 'SubnetZone', `SUBNET_ID ${subnetId} is in ${s.AvailabilityZone}, not AVAILABILITY_ZONE ${zone}`);
}

/** The volume exists, is available (or attached to the cluster being resumed), and shares the zone. */
async function checkVolume(
  api: Ec2Api,
  v: VolumeSettings,
  zone: string | undefined,
  ownInstances: ReadonlySet<string>,
  add: Add,
): Promise<void> {
  const missing = (): void =>
    add('cloud', 'VolumeNotFound', `[volume ${v.name}] VOLUME_ID ${v.volumeId} does not exist in ${api.region}`);
  let found;
  try {
    found = await api.describeVolumes([], [v.volumeId]);
  } catch (error) {
    if (!isCode(error, 'InvalidVolume.NotFound', 'InvalidVolumeID.Malformed')) throw error;
    return missing();
  }
  const vol = found[0];
  if (!vol) return missing();
  const attachments = vol.Attachments ?? [];
  const ours =
    vol.State === 'in-use' &&
    attachments.length > 0 &&
    attachments.every((a) => a.InstanceId !== undefined && ownInstances.has(a.InstanceId));
  if (vol.State && vol.State !== 'available' && !ours)
    add('cloud', 'VolumeInUse', `[volume ${v.name}] ${v.volumeId} is ${vol.State}, not available`);
  if (zone && vol.AvailabilityZone && vol.AvailabilityZone !== zone)
    add(
      'config',
      'VolumeZone',
      `[volume ${v.name}] ${v.volumeId} is in ${vol.AvailabilityZone}, not AVAILABILITY_ZONE ${zone}`,
    );
}

/**
 * SSH_CIDR left at 0.0.0.0/0 opens port 22 of every node to the internet. Starcluster cannot find
 * the user's address for them (offline, and a lookup service would be a third party to trust), so
 * the warning says how to find it.
 */
export function sshCidrWarning(template: Pick<ClusterTemplate, 'name' | 'sshCidr'>): string | undefined {
  if (template.sshCidr !== '0.0.0.0/0') return undefined;
  return (
    `SSH_CIDR is 0.0.0.0/0: port 22 of every node (root login by key) is open to the whole internet. ` +
    `Write your own address in [cluster ${template.name}], e.g. SSH_CIDR = 203.0.113.7/32: it is the public address ` +
    'your router shows on its status page (WAN/Internet), what `curl https://checkip.amazonaws.com` prints from ' +
    "this machine, or your network administrator's office range; behind a VPN, the VPN's exit address"
  );
}
