import { didYouMean, shown } from '../config/diagnostics.js';

/**
 * The stock images a cluster can name by alias instead of an AMI id (`NODE_IMAGE_ID = debian-12`),
 * and how to read what a user wrote for an image. Pure data and parsing: no SDK here, so the
 * config loader can check an alias offline and the EC2 provider can resolve it.
 *
 * Each alias names AWS's public SSM parameter for the image, per architecture; the parameter's
 * value is the AMI id of the newest release in the region the parameter is read in. These are the
 * paths the publishers document (Debian's cloud team, Canonical, Amazon), the same ones
 * `aws ec2 run-instances --image-id resolve:ssm:PATH` takes.
 */

/** EC2's names for the architectures we launch (DescribeImages' Architecture). */
export type Architecture = 'x86_64' | 'arm64';
export const ARCHITECTURES: readonly Architecture[] = ['x86_64', 'arm64'];

/** The package family setup uses: apt for debian/ubuntu, dnf for amazon. */
export type DistroFamily = 'debian' | 'ubuntu' | 'amazon';

export interface StockImage {
  alias: string;
  description: string;
  family: DistroFamily;
  /** The user the image's cloud-init gives the key pair's key (root login is refused). */
  loginUser: string;
  /** SSM public parameter holding the current AMI id, per architecture. */
  parameters: Record<Architecture, string>;
}

export const STOCK_IMAGES: readonly StockImage[] = [
  {
    alias: 'debian-12',
    description: 'Debian 12 (bookworm)',
    family: 'debian',
    loginUser: 'admin',
    parameters: {
      x86_64: '/aws/service/debian/release/12/latest/amd64',
      arm64: '/aws/service/debian/release/12/latest/arm64',
    },
  },
  {
    alias: 'ubuntu-24.04',
    description: 'Ubuntu 24.04 LTS (noble)',
    family: 'ubuntu',
    loginUser: 'ubuntu',
    parameters: {
      x86_64: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
      arm64: '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
    },
  },
  {
    alias: 'ubuntu-22.04',
    description: 'Ubuntu 22.04 LTS (jammy)',
    family: 'ubuntu',
    loginUser: 'ubuntu',
    parameters: {
      x86_64: '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
      arm64: '/aws/service/canonical/ubuntu/server/22.04/stable/current/arm64/hvm/ebs-gp2/ami-id',
    },
  },
  {
    alias: 'al2023',
    description: 'Amazon Linux 2023',
    family: 'amazon',
    loginUser: 'ec2-user',
    parameters: {
      x86_64: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      arm64: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64',
    },
  },
];

export const IMAGE_ALIASES: readonly string[] = STOCK_IMAGES.map((i) => i.alias);

export function stockImage(alias: string): StockImage | undefined {
  return STOCK_IMAGES.find((i) => i.alias === alias.toLowerCase());
}

/** What a user wrote for an image, read. */
export type ImageRef =
  | { kind: 'ami'; value: string; id: string }
  | { kind: 'alias'; value: string; image: StockImage }
  | { kind: 'ssm'; value: string; parameter: string };

const AMI_ID = /^ami-[0-9a-z]+$/i;
/** `resolve:ssm:NAME`, as RunInstances takes it; SSM names are letters, digits and `_.-/`. */
const SSM_REF = /^resolve:ssm:(\/?[A-Za-z0-9_.\-/]{1,2048})$/;

/**
 * Reads an image setting: an AMI id, an alias from STOCK_IMAGES, or `resolve:ssm:PARAMETER`.
 * Anything else is an error message that lists the aliases (and the nearest one).
 */
export function parseImageRef(raw: string): ImageRef | { kind: 'bad'; value: string; message: string } {
  const value = raw.trim();
  if (AMI_ID.test(value)) return { kind: 'ami', value, id: value };
  const image = stockImage(value);
  if (image) return { kind: 'alias', value, image };
  const ssm = SSM_REF.exec(value);
  if (ssm?.[1]) return { kind: 'ssm', value, parameter: ssm[1] };
  const hint = value.toLowerCase().startsWith('ami-')
    ? `${shown(value)} is not an AMI id such as ami-0123abcd`
    : `${shown(value)} is neither an AMI id nor an image alias${didYouMean(value, IMAGE_ALIASES)}`;
  return {
    kind: 'bad',
    value,
    message: `${hint}; aliases: ${IMAGE_ALIASES.join(', ')} (or ami-…, or resolve:ssm:/parameter/name)`,
  };
}

/**
 * The login user an AMI's name implies, for images not named by alias: the official Debian,
 * Ubuntu and Amazon Linux images keep their publishers' naming.
 */
export function loginUserFromImageName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  if (/^debian-/i.test(name)) return 'admin';
  if (/^ubuntu\//i.test(name) || /^ubuntu-/i.test(name)) return 'ubuntu';
  if (/^(al2023-ami-|amzn2-ami-|amzn-ami-)/i.test(name)) return 'ec2-user';
  return undefined;
}

/**
 * Graviton (arm64) instance families by name, for when EC2 does not say (DescribeInstanceTypes
 * answers first): a1, and every family whose generation digit is followed by `g` (t4g, m7g, c6gn,
 * im4gn, is4gen, x2gd, g5g...).
 */
export function architectureFromTypeName(instanceType: string): Architecture {
  const family = instanceType.split('.')[0]?.toLowerCase() ?? '';
  return family === 'a1' || /^[a-z]+\d+g[a-z]*$/.test(family) ? 'arm64' : 'x86_64';
}
