import { isIP } from 'node:net';
import { z } from 'zod';
import { parseImageRef } from '../cloud/images.js';
import { didYouMean, shown } from './diagnostics.js';
import { EC2_INSTANCE_TYPES, INSTANCE_TYPES_SOURCE } from './instance-types.js';

/**
 * One zod schema per section type: the single source of every setting's type, default and
 * value rules. Keys are the lower-case StarCluster names. Each field takes the raw string (or
 * undefined when absent) and outputs the typed value; its messages are written to follow
 * `[section] KEY: ` in a located line, so they name the bad value and what is allowed.
 */

class Bad {
  constructor(readonly message: string) {}
}

/** A string-to-T field whose failures become zod issues with our own message. */
function field<T>(parse: (value: string) => T | Bad) {
  return z.string().transform((value, ctx) => {
    const result = parse(value.trim());
    if (result instanceof Bad) {
      ctx.addIssue({ code: 'custom', message: result.message });
      return z.NEVER;
    }
    return result;
  });
}

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

export const text = (pattern?: RegExp, what?: string) =>
  field((v) => (pattern && !pattern.test(v) ? new Bad(`${shown(v)} is not ${what ?? 'valid'}`) : v));

export const bool = () =>
  field((v) => {
    const lower = v.toLowerCase();
    if (TRUE_WORDS.includes(lower)) return true;
    if (FALSE_WORDS.includes(lower)) return false;
    return new Bad(`expected True or False, got ${shown(v)}`);
  });

export const int = (min?: number, max?: number) =>
  field((v) => {
    if (!/^[+-]?\d+$/.test(v)) return new Bad(`expected a whole number, got ${shown(v)}`);
    const n = Number(v);
    if (min !== undefined && n < min) return new Bad(`${v} is too small (at least ${min})`);
    if (max !== undefined && n > max) return new Bad(`${v} is too large (at most ${max})`);
    return n;
  });

/**
 * `key=value, key=value` (TAGS): EC2's limits (key ≤ 128, value ≤ 256 characters, at most 40 user
 * tags beside ours); `aws:` is AWS's and `starcluster:` ours, so neither may be set.
 */
export const tagList = () =>
  field((v) => {
    const out: Record<string, string> = {};
    for (const item of v
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const eq = item.indexOf('=');
      const key = eq < 0 ? '' : item.slice(0, eq).trim();
      const value = eq < 0 ? '' : item.slice(eq + 1).trim();
      if (!key) return new Bad(`${shown(item)} is not key=value (e.g. TAGS = team=astro, cost-center=cc42)`);
      if (/^(aws|starcluster):/i.test(key)) return new Bad(`tag key ${shown(key)} is reserved (aws: and starcluster:)`);
      if (key.length > 128 || value.length > 256)
        return new Bad(`tag ${shown(key)} is too long (keys up to 128 characters, values up to 256)`);
      out[key] = value;
    }
    if (Object.keys(out).length > 40) return new Bad('EC2 takes at most 40 tags of yours on a resource');
    return out;
  });

export const positiveNumber = () =>
  field((v) => {
    const n = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(v) ? Number(v) : Number.NaN;
    if (Number.isNaN(n)) return new Bad(`expected a number such as 0.50, got ${shown(v)}`);
    if (n <= 0) return new Bad(`${v} must be greater than 0`);
    return n;
  });

/** Comma-separated, items trimmed, empty items dropped (as StarCluster's `_get_list`). */
export const list = () =>
  field((v) =>
    v
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean),
  );

export const choice = <const T extends readonly string[]>(values: T) =>
  field((v): T[number] | Bad => {
    const lower = v.toLowerCase();
    const hit = values.find((x) => x === lower);
    return hit ?? new Bad(`${shown(v)} is not one of ${values.join(', ')}${didYouMean(v, values)}`);
  });

/** An IPv4 or IPv6 range `ADDRESS/BITS`. */
export function checkCidr(v: string): string | Bad {
  const match = /^([^/\s]+)\/(\d{1,3})$/.exec(v);
  const family = match ? isIP(match[1] ?? '') : 0;
  const bits = match ? Number(match[2]) : -1;
  if (!match || family === 0 || bits > (family === 4 ? 32 : 128)) {
    return new Bad(`${shown(v)} is not a CIDR range such as 0.0.0.0/0 or 203.0.113.7/32`);
  }
  return v;
}
export const cidr = () => field(checkCidr);
/** Why `v` is not a CIDR range, or undefined. */
export function cidrProblem(v: string): string | undefined {
  const checked = checkCidr(v.trim());
  return checked instanceof Bad ? checked.message : undefined;
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
/**
 * Why `type` is not an EC2 instance type, or undefined when it is one. The list is AWS's own
 * (the SDK's `_InstanceType`, kept as data in instance-types.ts), as StarCluster checked its
 * `static.INSTANCE_TYPES`: a typo gets "did you mean", an unknown size the family's sizes.
 */
export function instanceTypeProblem(type: string): string | undefined {
  if (EC2_INSTANCE_TYPES.has(type)) return undefined;
  if (!INSTANCE_TYPE.test(type)) return `${shown(type)} is not an instance type such as m1.small or c5.large`;
  const typo = didYouMean(type, EC2_INSTANCE_TYPES);
  if (typo) return `${shown(type)} is not an EC2 instance type${typo}`;
  const family = type.split('.')[0] ?? '';
  const sizes = [...EC2_INSTANCE_TYPES].filter((t) => t.startsWith(`${family}.`));
  if (sizes.length > 0)
    return `${shown(type)} is not an EC2 instance type; the ${family} types are ${sizes.join(', ')}`;
  return `${shown(type)} is not an EC2 instance type: no family ${shown(family)} among the ${EC2_INSTANCE_TYPES.size} types of ${INSTANCE_TYPES_SOURCE}`;
}

const instanceType = () =>
  field((v): string | Bad => {
    const problem = instanceTypeProblem(v);
    return problem === undefined ? v : new Bad(problem);
  });
/** An AMI id, an image alias (debian-12, ubuntu-24.04...: src/cloud/images.ts) or `resolve:ssm:NAME`. */
function checkImage(v: string): string | Bad {
  const ref = parseImageRef(v);
  return ref.kind === 'bad' ? new Bad(ref.message) : ref.kind === 'alias' ? ref.image.alias : ref.value;
}
const imageId = () => field(checkImage);

/** One `type[:ami][:count]` item of NODE_INSTANCE_TYPE (before the last). */
export interface NodeTypeItem {
  instanceType: string;
  imageId?: string;
  count: number;
}
export interface NodeTypes {
  /** The last item: the type of every worker not counted by `items`. */
  defaultType: string;
  items: NodeTypeItem[];
}

/** StarCluster's `_load_instance_types`: `c1.xlarge:ami-x:2, m1.large:1, m1.small`. */
export const nodeInstanceTypes = () =>
  field((v): NodeTypes | Bad => {
    const parts = v
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
    const defaultType = parts.pop();
    if (defaultType === undefined) return new Bad('is empty: give an instance type such as m1.small');
    if (!INSTANCE_TYPE.test(defaultType)) {
      return new Bad(
        `the last item ${shown(defaultType)} must be a plain instance type (the default for the other workers), such as m1.small`,
      );
    }
    const lastProblem = instanceTypeProblem(defaultType);
    if (lastProblem) return new Bad(`the last item (the default type): ${lastProblem}`);
    const items: NodeTypeItem[] = [];
    for (const part of parts) {
      // `resolve:ssm:NAME` holds colons of its own: take it out before splitting.
      const ssm = /:(resolve:ssm:[^:]+)/.exec(part);
      const bits = (ssm ? part.replace(ssm[0], ':\0') : part).split(':').map((s) => s.trim());
      const [type = '', second, third] = bits;
      let image: string | undefined;
      let countText = '1';
      if (bits.length === 3) {
        image = second;
        countText = third ?? '';
      } else if (bits.length === 2 && second !== undefined) {
        // A count is a number; an image is an AMI id, an alias or resolve:ssm (each has a digit or `-`).
        if (/^[+-]?\d+$/.test(second) || !/[\d-]/.test(second)) countText = second;
        else image = second;
      } else if (bits.length > 3) {
        return new Bad(`item ${shown(part)} should be TYPE[:AMI][:COUNT]`);
      }
      if (image === '\0' && ssm?.[1]) image = ssm[1];
      const typeProblem = instanceTypeProblem(type);
      if (typeProblem) return new Bad(`item ${shown(part)}: ${typeProblem}`);
      if (image !== undefined) {
        const checked = checkImage(image);
        if (checked instanceof Bad) return new Bad(`item ${shown(part)}: ${checked.message}`);
        image = checked;
      }
      if (!/^\d+$/.test(countText) || Number(countText) < 1) {
        return new Bad(`item ${shown(part)}: the count ${shown(countText)} must be a whole number of at least 1`);
      }
      items.push({ instanceType: type, ...(image ? { imageId: image } : {}), count: Number(countText) });
    }
    return { defaultType, items };
  });

export const PROVIDERS = ['ec2', 'local'] as const;
export const SHARED_FILESYSTEMS = ['nfs', 'sshfs', 'none'] as const;
export const SHELLS = ['bash', 'zsh', 'csh', 'ksh', 'tcsh'] as const;
export const PROTOCOLS = ['tcp', 'udp', 'icmp'] as const;

export const globalSchema = z.object({
  default_template: text().optional(),
  enable_experimental: bool().default(false),
  refresh_interval: int(1).optional(),
  web_browser: text().optional(),
  include: list().default([]),
});

export const awsSchema = z.object({
  aws_access_key_id: text().optional(),
  aws_secret_access_key: text().optional(),
  aws_user_id: text().optional(),
  ec2_cert: text().optional(),
  ec2_private_key: text().optional(),
  aws_region_name: text(/^[a-z]{2}(-[a-z0-9]+)+-\d+$/, 'a region name such as us-east-1').optional(),
  aws_region_host: text(/^[A-Za-z0-9.-]+$/, 'a host name such as ec2.us-east-1.amazonaws.com').optional(),
  aws_s3_host: text(/^[A-Za-z0-9.-]+$/, 'a host name such as s3.amazonaws.com').optional(),
  aws_port: int(1, 65535).optional(),
  aws_ec2_path: text(/^\//, 'a path starting with /').default('/'),
  aws_s3_path: text(/^\//, 'a path starting with /').default('/'),
  aws_is_secure: bool().default(true),
  aws_validate_certs: bool().default(true),
  aws_proxy: text(/^[^\s/]+$/, 'a proxy host name').optional(),
  aws_proxy_port: int(1, 65535).optional(),
  aws_proxy_user: text().optional(),
  aws_proxy_pass: text().optional(),
});

export const keySchema = z.object({
  key_location: text(),
});

export const volumeSchema = z.object({
  volume_id: text(/^vol-[0-9a-z]+$/i, 'an EBS volume id such as vol-0123abcd'),
  mount_path: field((v) =>
    !v.startsWith('/')
      ? new Bad(`${shown(v)} must be an absolute path such as /data`)
      : /^\/+$/.test(v)
        ? new Bad('cannot be / (the root filesystem): use a folder such as /data')
        : v.length > 1
          ? v.replace(/\/+$/, '')
          : v,
  ),
  device: text(/^\/dev\/[a-z0-9]+$/, 'a device such as /dev/sdz').optional(),
  partition: int(1).optional(),
});

export const permissionSchema = z.object({
  ip_protocol: choice(PROTOCOLS).optional(),
  /** StarCluster's own template writes PROTOCOL; accepted as IP_PROTOCOL. */
  protocol: choice(PROTOCOLS).optional(),
  from_port: int(-1, 65535),
  to_port: int(-1, 65535),
  /** Checked by the loader: an unused permission's bad range only warns (StarCluster checked it at start). */
  cidr_ip: text().optional(),
  source_group: text(/^[^\s,]+$/, 'a security group id or name').optional(),
});

export const pluginSchema = z.object({
  setup_class: text(),
});

export const clusterSchema = z.object({
  extends: text().optional(),
  provider: choice(PROVIDERS).optional(),
  keyname: text().optional(),
  cluster_size: int(1).optional(),
  cluster_user: field((v) =>
    v === 'root'
      ? new Bad('cannot be root: StarCluster creates this user on every node; use e.g. sgeadmin')
      : /^[a-z_][a-z0-9_-]{0,31}$/.test(v)
        ? v
        : new Bad(`${shown(v)} is not a Linux user name (lower case letters, digits, _ and -)`),
  ).optional(),
  cluster_shell: choice(SHELLS).optional(),
  dns_prefix: bool().optional(),
  master_image_id: imageId().optional(),
  master_instance_type: instanceType().optional(),
  node_image_id: imageId().optional(),
  node_instance_type: nodeInstanceTypes().optional(),
  availability_zone: text(/^[a-z0-9-]+$/, 'a zone such as us-east-1a').optional(),
  volumes: list().optional(),
  plugins: list().optional(),
  permissions: list().optional(),
  spot_bid: positiveNumber().optional(),
  force_spot_master: bool().optional(),
  userdata_scripts: list().optional(),
  disable_queue: bool().optional(),
  master_is_exec_host: bool().optional(),
  disable_cloudinit: bool().optional(),
  subnet_id: text(/^subnet-[0-9a-z]+$/i, 'a subnet id such as subnet-0123abcd').optional(),
  public_ips: bool().optional(),
  shared_fs: choice(SHARED_FILESYSTEMS).optional(),
  ssh_cidr: cidr().optional(),
  engines_per_node: int(1).optional(),
  /** ours: the user to log in as on the image (default: from the image alias or AMI name, else root). */
  login_user: text(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Linux user name such as admin or ubuntu').optional(),
  /** ours: TAGS = key=value, … on every resource the cluster makes, at creation. */
  tags: tagList().optional(),
  /** ours: MAX_LIFETIME, minutes after launch when each node powers itself off (and so terminates). */
  max_lifetime: int(1).optional(),
  /** ours: IDLE_SHUTDOWN, minutes without a login, a Slurm job or busy engines before a node powers off. */
  idle_shutdown: int(1).optional(),
  /** ours: IAM_PROFILE, an instance profile (name or ARN) the nodes get instead of any access key. */
  iam_profile: text(
    /^([\w+=,.@-]{1,128}|arn:aws[\w-]*:iam::\d{12}:instance-profile\/[\w+=,.@/-]{1,128})$/,
    'an instance profile name or ARN',
  ).optional(),
});

/** A cluster section's own settings, before EXTENDS and defaults: every field optional. */
export type ClusterFields = z.output<typeof clusterSchema>;
