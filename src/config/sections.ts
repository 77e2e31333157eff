import { dirname } from 'node:path';
import type { z } from 'zod';
import { registerSecret } from '../secrets.js';
import { didYouMean, shown, type Diagnostics, type Located } from './diagnostics.js';
import { sectionLabel, type RawSection, type SectionKind } from './locate.js';
import { resolveConfigRelative } from './paths.js';
import {
  awsSchema,
  cidrProblem,
  clusterSchema,
  globalSchema,
  keySchema,
  permissionSchema,
  pluginSchema,
  volumeSchema,
} from './schema.js';
import type { AwsSettings, GlobalSettings, PermissionSettings } from './types.js';

/**
 * One section of a config through its schema, and the typed settings of [global], [aws info] and
 * [permission] sections (the loader, load.ts, puts them together; cluster templates: cluster-template.ts).
 */

/** Sections by kind, then by name, after same-named sections were merged. */
export type Merged = Map<SectionKind, Map<string, RawSection>>;

const SCHEMAS = {
  global: globalSchema,
  aws: awsSchema,
  key: keySchema,
  cluster: clusterSchema,
  volume: volumeSchema,
  permission: permissionSchema,
  plugin: pluginSchema,
} as const;

export interface Parsed<T> {
  data: Partial<T> | undefined;
  ok: boolean;
}

/**
 * Runs one section through its zod schema. Unknown keys, bad values and missing required keys
 * become located problems; `data` keeps what did parse, so later checks still run.
 */
export function parseSection<S extends z.ZodObject>(
  schema: S,
  section: RawSection,
  diagnostics: Diagnostics,
  options: { allowUnknown?: boolean } = {},
): Parsed<z.output<S>> {
  const label = sectionLabel(section.kind, section.name);
  const known = Object.keys(schema.shape);
  const input: Record<string, string> = {};
  let ok = true;
  for (const entry of section.entries.values()) {
    if (!known.includes(entry.lower)) {
      if (options.allowUnknown) continue;
      ok = false;
      diagnostics.add(
        entry,
        `${label} unknown setting ${shown(entry.key)}${unknownKeyHint(entry.lower, section.kind, known)}`,
      );
      continue;
    }
    if (entry.value !== '') input[entry.lower] = entry.value;
  }
  const first = schema.safeParse(input);
  if (first.success) return { data: first.data as Partial<z.output<S>>, ok };
  const bad = new Set<string>();
  for (const issue of first.error.issues) {
    const key = String(issue.path[0] ?? '');
    bad.add(key);
    const entry = section.entries.get(key);
    const KEY = key.toUpperCase();
    if (input[key] === undefined) {
      const where: Located = entry ?? section;
      diagnostics.add(where, `${label} is missing required setting ${KEY}${entry ? ' (it is empty)' : ''}`);
    } else {
      diagnostics.add(entry ?? section, `${label} ${KEY}: ${issue.message}`);
    }
  }
  for (const key of bad) delete input[key];
  const second = schema.safeParse(input);
  return { data: second.success ? (second.data as Partial<z.output<S>>) : undefined, ok: false };
}

function unknownKeyHint(lower: string, kind: SectionKind, known: string[]): string {
  const upper = known.map((k) => k.toUpperCase());
  const typo = didYouMean(lower.toUpperCase(), upper);
  if (typo) return typo;
  for (const [otherKind, schema] of Object.entries(SCHEMAS)) {
    if (otherKind !== kind && lower in schema.shape) {
      return ` (${lower.toUpperCase()} belongs in ${sectionLabel(otherKind as SectionKind, 'NAME')})`;
    }
  }
  return '';
}

export function listOf(what: string, names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? `; no ${what} are defined` : `; ${what}: ${all.join(', ')}`;
}

export function buildGlobal(section: RawSection, diagnostics: Diagnostics): GlobalSettings {
  const { data = {} } = parseSection(globalSchema, section, diagnostics);
  const experimental = section.entries.get('enable_experimental');
  if (data.enable_experimental === true && experimental) {
    diagnostics.warn(
      experimental,
      '[global] ENABLE_EXPERIMENTAL = True changes nothing here: StarCluster used it to unlock `loadbalance`, which needs no unlocking here; every feature is on',
    );
  }
  return {
    ...(data.default_template !== undefined ? { defaultTemplate: data.default_template } : {}),
    enableExperimental: data.enable_experimental ?? false,
    ...(data.refresh_interval !== undefined ? { refreshInterval: data.refresh_interval } : {}),
    ...(data.web_browser !== undefined ? { webBrowser: data.web_browser } : {}),
    include: data.include ?? [],
  };
}

export function buildAws(section: RawSection, diagnostics: Diagnostics, env: NodeJS.ProcessEnv): AwsSettings {
  const { data = {} } = parseSection(awsSchema, section, diagnostics);
  const at = (key: string): Located => section.entries.get(key) ?? section;
  if ((data.aws_access_key_id === undefined) !== (data.aws_secret_access_key === undefined)) {
    const [set, unset] = data.aws_access_key_id
      ? ['aws_access_key_id', 'aws_secret_access_key']
      : ['aws_secret_access_key', 'aws_access_key_id'];
    diagnostics.add(
      at(set),
      `[aws info] ${set.toUpperCase()} is set but ${unset.toUpperCase()} is not: set both, or neither to use the standard AWS credential chain`,
    );
  }
  if (data.aws_proxy === undefined) {
    for (const key of ['aws_proxy_port', 'aws_proxy_user', 'aws_proxy_pass'] as const) {
      if (data[key] !== undefined)
        diagnostics.add(at(key), `[aws info] ${key.toUpperCase()} needs AWS_PROXY (the proxy host)`);
    }
  }
  registerSecret(data.aws_secret_access_key);
  registerSecret(data.aws_proxy_pass);
  const file = (key: 'ec2_cert' | 'ec2_private_key'): string | undefined => {
    const value = data[key];
    const entry = section.entries.get(key);
    return value && entry ? resolveConfigRelative(value, dirname(entry.file), env) : value;
  };
  const ec2Cert = file('ec2_cert');
  const ec2PrivateKey = file('ec2_private_key');
  const settings: AwsSettings = {
    ...(data.aws_access_key_id !== undefined ? { accessKeyId: data.aws_access_key_id } : {}),
    ...(data.aws_secret_access_key !== undefined ? { secretAccessKey: data.aws_secret_access_key } : {}),
    ...(data.aws_user_id !== undefined ? { userId: data.aws_user_id } : {}),
    ...(data.aws_region_name !== undefined ? { regionName: data.aws_region_name } : {}),
    ...(data.aws_region_host !== undefined ? { regionHost: data.aws_region_host } : {}),
    ...(data.aws_port !== undefined ? { port: data.aws_port } : {}),
    isSecure: data.aws_is_secure ?? true,
    ec2Path: data.aws_ec2_path ?? '/',
    ...(data.aws_s3_host !== undefined ? { s3Host: data.aws_s3_host } : {}),
    s3Path: data.aws_s3_path ?? '/',
    ...(data.aws_proxy !== undefined
      ? {
          proxy: {
            host: data.aws_proxy,
            ...(data.aws_proxy_port !== undefined ? { port: data.aws_proxy_port } : {}),
            ...(data.aws_proxy_user !== undefined ? { user: data.aws_proxy_user } : {}),
            ...(data.aws_proxy_pass !== undefined ? { pass: data.aws_proxy_pass } : {}),
          },
        }
      : {}),
    ...(ec2Cert !== undefined ? { ec2Cert } : {}),
    ...(ec2PrivateKey !== undefined ? { ec2PrivateKey } : {}),
    validateCerts: data.aws_validate_certs ?? true,
  };
  const endpoint = endpointFor(settings, env);
  return endpoint === undefined ? settings : { ...settings, endpoint };
}

/** `AWS_ENDPOINT_URL(_EC2)` from the environment, else one built from [aws info] AWS_REGION_HOST/PORT/IS_SECURE. */
export function endpointFor(aws: AwsSettings, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.AWS_ENDPOINT_URL_EC2 || env.AWS_ENDPOINT_URL;
  if (fromEnv) return fromEnv;
  if (!aws.regionHost) return undefined;
  const scheme = aws.isSecure === false ? 'http' : 'https';
  const port = aws.port !== undefined ? `:${aws.port}` : '';
  const path = aws.ec2Path && aws.ec2Path !== '/' ? aws.ec2Path : '';
  return `${scheme}://${aws.regionHost}${port}${path}`;
}

/** For each section name listed in `key` (PERMISSIONS, PLUGINS, ...) of some cluster, the first cluster listing it. */
export function clustersUsing(clusters: RawSection[], key: string): Map<string, string> {
  const used = new Map<string, string>();
  for (const cluster of clusters) {
    for (const item of (cluster.entries.get(key)?.value ?? '').split(/[,\n]/)) {
      const name = item.trim();
      if (name && !used.has(name)) used.set(name, cluster.name);
    }
  }
  return used;
}

/**
 * A [permission] section. Types are checked always (as StarCluster's loader did); the rule's
 * sense (port range, icmp -1/-1, CIDR) is an error when a cluster uses the permission, and only a
 * warning when none does: StarCluster checked it when a cluster using it started, so an unused
 * odd rule (its own test config has FROM_PORT 80, TO_PORT 20) never stopped anyone.
 */
export function buildPermission(
  section: RawSection,
  diagnostics: Diagnostics,
  usedBy: string | undefined,
): PermissionSettings | undefined {
  const { data } = parseSection(permissionSchema, section, diagnostics);
  const label = sectionLabel('permission', section.name);
  const at = (key: string): Located => section.entries.get(key) ?? section;
  if (!data) return undefined;
  const problem = (where: Located, message: string): void => {
    if (usedBy !== undefined) diagnostics.add(where, message);
    else
      diagnostics.warn(
        where,
        `${message} (no cluster uses ${label}; StarCluster would refuse it at \`start\` of a cluster that does)`,
      );
  };
  if (data.protocol !== undefined && data.ip_protocol !== undefined) {
    diagnostics.add(at('protocol'), `${label} sets both PROTOCOL and IP_PROTOCOL: keep IP_PROTOCOL`);
  }
  const protocol = data.ip_protocol ?? data.protocol ?? 'tcp';
  const { from_port: from, to_port: to } = data;
  let ok = true;
  if (from !== undefined && to !== undefined) {
    if (protocol === 'icmp') {
      if (from !== -1 || to !== -1) {
        problem(at('from_port'), `${label} icmp rules need FROM_PORT = -1 and TO_PORT = -1, got ${from} and ${to}`);
        ok = false;
      }
    } else {
      for (const [key, value] of [
        ['from_port', from],
        ['to_port', to],
      ] as const) {
        if (value < 0) {
          problem(at(key), `${label} ${key.toUpperCase()}: ${value} is not a ${protocol} port (0 to 65535)`);
          ok = false;
        }
      }
      if (from > to) {
        problem(at('from_port'), `${label} FROM_PORT ${from} is greater than TO_PORT ${to}`);
        ok = false;
      }
    }
  }
  const badCidr = data.cidr_ip !== undefined ? cidrProblem(data.cidr_ip) : undefined;
  if (badCidr !== undefined) {
    problem(at('cidr_ip'), `${label} CIDR_IP: ${badCidr}`);
    ok = false;
  }
  if (data.cidr_ip !== undefined && data.source_group !== undefined) {
    diagnostics.add(at('source_group'), `${label} sets both CIDR_IP and SOURCE_GROUP: a rule admits one or the other`);
    ok = false;
  }
  if (!ok || from === undefined || to === undefined) return undefined;
  return {
    name: section.name,
    protocol,
    fromPort: from,
    toPort: to,
    // SOURCE_GROUP admits that group only: no CIDR default beside it (it would open the rule to the world).
    ...(data.source_group !== undefined ? { sourceGroup: data.source_group } : { cidrIp: data.cidr_ip ?? '0.0.0.0/0' }),
  };
}
