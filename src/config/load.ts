import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { registerScriptSecrets, registerSecret, SECRET_NAME } from '../secrets.js';
import { Diagnostics, didYouMean, shown } from './diagnostics.js';
import type { Located } from './diagnostics.js';
import { scanConfigText, sectionLabel } from './locate.js';
import type { RawEntry, RawSection, SectionKind } from './locate.js';
import { locateConfigPath, resolveConfigRelative } from './paths.js';
import { defaultTemplate } from '../model/template.js';
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
import type { ClusterFields } from './schema.js';
import type {
  AwsSettings,
  ClusterTemplate,
  GlobalSettings,
  KeySettings,
  PermissionSettings,
  PluginSettings,
  StarclusterConfig,
  VolumeSettings,
} from './types.js';

export interface LoadConfigOptions {
  /** The --config flag; absent: $STARCLUSTER_CONFIG, then ~/.starcluster/config. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

/** Plugin settings whose values are secrets: shown as *** and redacted from every output. */
/** Keys whose values are secrets (registered for redaction, masked by `config show`). */
export const SECRET_SETTING = SECRET_NAME;

const SCHEMAS = {
  global: globalSchema,
  aws: awsSchema,
  key: keySchema,
  cluster: clusterSchema,
  volume: volumeSchema,
  permission: permissionSchema,
  plugin: pluginSchema,
} as const;

/**
 * Reads, parses and validates a StarCluster config (with its INCLUDEs). Every problem is
 * collected and thrown at once as a ConfigError whose details are `FILE:LINE: message` lines.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<StarclusterConfig> {
  const env = options.env ?? process.env;
  const { path, source } = locateConfigPath(options.path, env);
  const text = await readMainFile(path, source);
  const diagnostics = new Diagnostics();
  const sections = await readWithIncludes(path, text, diagnostics, env);
  const config = buildConfig(path, mergeSections(sections, diagnostics), diagnostics, env);
  const problems = diagnostics.lines();
  if (problems.length > 0 || config === undefined) {
    const count = problems.length;
    throw new ConfigError('InvalidConfig', `${path} has ${count} problem${count === 1 ? '' : 's'}`, {
      details: problems,
      hint: 'fix the lines above, then check again with `starcluster config validate`',
    });
  }
  await registerUserdataSecrets(config);
  const warnings = diagnostics.warnings();
  return warnings.length > 0 ? { ...config, warnings } : config;
}

/** Secret-named assignments in USERDATA_SCRIPTS are secrets from the moment the config is read. */
async function registerUserdataSecrets(config: StarclusterConfig): Promise<void> {
  const scripts = new Set([...config.clusters.values()].flatMap((t) => t.userdataScripts));
  await Promise.all(
    [...scripts].map(async (script) => {
      // A missing script is validation's to report, not the loader's.
      const text = await readFile(script, 'utf8').catch(() => '');
      registerScriptSecrets(text);
    }),
  );
}

async function readMainFile(path: string, source: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const why = source === 'flag' ? ' (from --config)' : source === 'env' ? ' (from $STARCLUSTER_CONFIG)' : '';
      throw new ConfigError('ConfigNotFound', `no config file at ${path}${why}`, {
        hint: 'run `starcluster config init` to write one, or pass --config FILE',
        cause: error,
      });
    }
    throw new ConfigError('ConfigUnreadable', `cannot read the config file ${path}: ${code ?? String(error)}`, {
      hint: 'check that it is a readable file',
      cause: error,
    });
  }
}

/** Scans the main file, then each `[global] INCLUDE` (depth first; a file already read is skipped). */
async function readWithIncludes(
  path: string,
  text: string,
  diagnostics: Diagnostics,
  env: NodeJS.ProcessEnv,
): Promise<RawSection[]> {
  const visited = new Set<string>();
  const all: RawSection[] = [];
  const visit = async (file: string, content: string): Promise<void> => {
    visited.add(file);
    const sections = scanConfigText(content, file, diagnostics);
    all.push(...sections);
    const include = sections.find((s) => s.kind === 'global')?.entries.get('include');
    if (!include) return;
    for (const item of include.value.split(/[,\n]/).map((s) => s.trim())) {
      if (!item) continue;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) {
        diagnostics.add(include, `[global] INCLUDE: ${shown(item)} is a URL: download it and INCLUDE its local path`);
        continue;
      }
      const target = resolveConfigRelative(item, dirname(file), env);
      if (visited.has(target)) continue;
      let more: string;
      try {
        more = await readFile(target, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        diagnostics.add(include, `[global] INCLUDE: cannot read ${shown(item)} (${target}: ${code})`);
        continue;
      }
      await visit(target, more);
    }
  };
  await visit(path, text);
  return all;
}

type Merged = Map<SectionKind, Map<string, RawSection>>;

/**
 * Sections of the same type and name (in one file or across INCLUDEs) merge, as Python's
 * ConfigParser merged them without a word: here with a warning naming both headers. A key the
 * two set to different values is an error naming both lines, since which one StarCluster used
 * depended on reading order.
 */
function mergeSections(sections: RawSection[], diagnostics: Diagnostics): Merged {
  const merged: Merged = new Map();
  for (const section of sections) {
    let byName = merged.get(section.kind);
    if (!byName) merged.set(section.kind, (byName = new Map()));
    const existing = byName.get(section.name);
    if (!existing) {
      byName.set(section.name, { ...section, entries: new Map(section.entries) });
      continue;
    }
    const label = sectionLabel(section.kind, section.name);
    let conflicts = 0;
    for (const [key, entry] of section.entries) {
      // Each file's own INCLUDE list was followed while reading: they do not compete.
      if (section.kind === 'global' && key === 'include') continue;
      const before = existing.entries.get(key);
      if (before && before.value !== entry.value) {
        conflicts += 1;
        diagnostics.add(
          entry,
          `${label} ${entry.key.toUpperCase()} = ${secretOrShown(key, entry.value)} conflicts with ${secretOrShown(key, before.value)} at ${where(before)} (${label} is written twice, at ${where(existing)} and ${where(section)}): keep one value`,
        );
      } else if (!before) existing.entries.set(key, entry);
    }
    if (conflicts === 0) {
      diagnostics.warn(
        section,
        `${label} is written twice, at ${where(existing)} and ${where(section)}: merged into one, as StarCluster did; write it once`,
      );
    }
  }
  return merged;
}

const where = (at: Located): string => `${at.file}:${at.line}`;
/** A value for a message; a secret setting's (AWS_SECRET_ACCESS_KEY, AWS_PROXY_PASS, ...) is never shown. */
const secretOrShown = (key: string, value: string): string => (SECRET_SETTING.test(key) ? '***' : shown(value));

interface Parsed<T> {
  data: Partial<T> | undefined;
  ok: boolean;
}

/**
 * Runs one section through its zod schema. Unknown keys, bad values and missing required keys
 * become located problems; `data` keeps what did parse, so later checks still run.
 */
function parseSection<S extends z.ZodObject>(
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

function buildConfig(
  path: string,
  merged: Merged,
  diagnostics: Diagnostics,
  env: NodeJS.ProcessEnv,
): StarclusterConfig | undefined {
  const dummy = (kind: SectionKind): RawSection => ({ kind, name: '', file: path, line: 1, entries: new Map() });
  const globalSection = merged.get('global')?.get('') ?? dummy('global');
  const awsSection = merged.get('aws')?.get('') ?? dummy('aws');
  const byName = (kind: SectionKind) => [...(merged.get(kind)?.values() ?? [])];

  const global = buildGlobal(globalSection, diagnostics);
  const aws = buildAws(awsSection, diagnostics, env);
  const keys = new Map<string, KeySettings>();
  for (const section of byName('key')) {
    const { data } = parseSection(keySchema, section, diagnostics);
    const entry = section.entries.get('key_location');
    if (data?.key_location && entry) {
      keys.set(section.name, {
        name: section.name,
        location: resolveConfigRelative(data.key_location, dirname(entry.file), env),
      });
    }
  }
  const volumes = new Map<string, VolumeSettings>();
  for (const section of byName('volume')) {
    const { data } = parseSection(volumeSchema, section, diagnostics);
    if (data?.volume_id && data.mount_path) {
      volumes.set(section.name, {
        name: section.name,
        volumeId: data.volume_id,
        mountPath: data.mount_path,
        ...(data.device !== undefined ? { device: data.device } : {}),
        ...(data.partition !== undefined ? { partition: data.partition } : {}),
      });
    }
  }
  const permissions = new Map<string, PermissionSettings>();
  const usedBy = clustersUsing(byName('cluster'), 'permissions');
  for (const section of byName('permission')) {
    const permission = buildPermission(section, diagnostics, usedBy.get(section.name));
    if (permission) permissions.set(section.name, permission);
  }
  const plugins = new Map<string, PluginSettings>();
  for (const section of byName('plugin')) {
    const { data } = parseSection(pluginSchema, section, diagnostics, { allowUnknown: true });
    const settings: Record<string, string> = {};
    for (const entry of section.entries.values()) {
      if (entry.lower === 'setup_class') continue;
      settings[entry.lower] = entry.value;
      if (SECRET_SETTING.test(entry.lower)) registerSecret(entry.value);
    }
    if (data?.setup_class) {
      plugins.set(section.name, {
        name: section.name,
        setupClass: data.setup_class,
        settings,
        location: { file: section.file, line: section.line },
      });
    }
  }

  const clusterSections = new Map(byName('cluster').map((s) => [s.name, s]));
  const own = new Map<string, Partial<ClusterFields>>();
  for (const section of clusterSections.values()) {
    own.set(section.name, parseSection(clusterSchema, section, diagnostics).data ?? {});
  }
  const refs: References = { keys, volumes, plugins, permissions, sections: merged };
  const clusters = new Map<string, ClusterTemplate>();
  for (const section of clusterSections.values()) {
    const chain = resolveExtends(section, clusterSections, diagnostics);
    if (!chain) continue;
    const template = buildTemplate(section, chain, own, refs, diagnostics, env);
    if (template) clusters.set(section.name, template);
  }

  if (global.defaultTemplate !== undefined && !clusterSections.has(global.defaultTemplate)) {
    const entry = globalSection.entries.get('default_template') ?? globalSection;
    diagnostics.add(
      entry,
      `[global] DEFAULT_TEMPLATE: there is no [cluster ${global.defaultTemplate}] section${didYouMean(global.defaultTemplate, clusterSections.keys())}${listOf('cluster templates', clusterSections.keys())}`,
    );
  }
  if (diagnostics.count > 0) return undefined;
  return { path, global, aws, keys, clusters, volumes, plugins, permissions };
}

function listOf(what: string, names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? `; no ${what} are defined` : `; ${what}: ${all.join(', ')}`;
}

function buildGlobal(section: RawSection, diagnostics: Diagnostics): GlobalSettings {
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

function buildAws(section: RawSection, diagnostics: Diagnostics, env: NodeJS.ProcessEnv): AwsSettings {
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
function clustersUsing(clusters: RawSection[], key: string): Map<string, string> {
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
function buildPermission(
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

/**
 * The EXTENDS chain of a template, root ancestor first, ending with the template itself.
 * A missing parent or a cycle is reported at the EXTENDS line (a cycle once, at its
 * alphabetically first member) and yields undefined.
 */
function resolveExtends(
  section: RawSection,
  all: Map<string, RawSection>,
  diagnostics: Diagnostics,
): RawSection[] | undefined {
  const chain: RawSection[] = [section];
  let current = section;
  for (;;) {
    const entry = current.entries.get('extends');
    const parentName = entry?.value.trim();
    if (!entry || !parentName) return chain.reverse();
    const parent = all.get(parentName);
    if (!parent) {
      diagnostics.add(
        entry,
        `[cluster ${current.name}] EXTENDS: there is no [cluster ${parentName}] section${didYouMean(parentName, all.keys())}${listOf('cluster templates', all.keys())}`,
      );
      return undefined;
    }
    const seenAt = chain.indexOf(parent);
    if (seenAt >= 0) {
      const loop = chain.slice(seenAt).map((s) => s.name);
      const first = [...loop].sort()[0] ?? parent.name;
      const start = loop.indexOf(first);
      const ordered = [...loop.slice(start), ...loop.slice(0, start), first];
      const firstSection = all.get(first) ?? parent;
      diagnostics.add(
        firstSection.entries.get('extends') ?? firstSection,
        `[cluster ${first}] EXTENDS makes a cycle: ${ordered.join(' → ')}; remove one of these EXTENDS`,
      );
      return undefined;
    }
    chain.push(parent);
    current = parent;
  }
}

interface References {
  keys: Map<string, KeySettings>;
  volumes: Map<string, VolumeSettings>;
  plugins: Map<string, PluginSettings>;
  permissions: Map<string, PermissionSettings>;
  sections: Merged;
}

const EC2_REQUIRED = ['keyname', 'cluster_size', 'node_image_id', 'node_instance_type'] as const;

function buildTemplate(
  section: RawSection,
  chain: RawSection[],
  own: Map<string, Partial<ClusterFields>>,
  refs: References,
  diagnostics: Diagnostics,
  env: NodeJS.ProcessEnv,
): ClusterTemplate | undefined {
  // Child overrides parent, key by key; `from` remembers which line each value came from.
  const fields: Partial<ClusterFields> = {};
  const from = new Map<string, RawEntry>();
  for (const level of chain) {
    for (const [key, value] of Object.entries(own.get(level.name) ?? {})) {
      if (value === undefined || key === 'extends') continue;
      (fields as Record<string, unknown>)[key] = value;
      const entry = level.entries.get(key);
      if (entry) from.set(key, entry);
    }
  }
  const name = section.name;
  const label = `[cluster ${name}]`;
  /** Where a key was written, and how to name it: in this section, or inherited. */
  const at = (key: string): { where: Located; prefix: string } => {
    const entry = from.get(key);
    if (!entry) return { where: section, prefix: `${label} ${key.toUpperCase()}` };
    const owner = chain.find((s) => s.entries.get(key) === entry);
    const inherited = owner && owner !== section ? ` (inherited by template ${name})` : '';
    return { where: entry, prefix: `[cluster ${owner?.name ?? name}] ${key.toUpperCase()}${inherited}` };
  };
  const problem = (key: string, message: string): void => {
    const { where, prefix } = at(key);
    diagnostics.add(where, `${prefix}: ${message}`);
  };
  const before = diagnostics.count;

  const provider = fields.provider ?? 'ec2';
  if (provider === 'ec2') {
    const missing = EC2_REQUIRED.filter((key) => fields[key] === undefined && !chainHasBadValue(chain, key));
    for (const key of missing) {
      diagnostics.add(
        section,
        `${label} is missing required setting ${key.toUpperCase()} (needed when PROVIDER = ec2)`,
      );
    }
  }
  const clusterSize = fields.cluster_size ?? (provider === 'local' ? 2 : 1);

  let key: KeySettings | undefined;
  if (fields.keyname !== undefined) {
    key = refs.keys.get(fields.keyname);
    if (!key && !refs.sections.get('key')?.has(fields.keyname)) {
      problem(
        'keyname',
        `there is no [key ${fields.keyname}] section${didYouMean(fields.keyname, refs.sections.get('key')?.keys() ?? [])}${listOf('keys', refs.sections.get('key')?.keys() ?? [])}`,
      );
    }
  }
  const resolveList = <T>(
    field: 'volumes' | 'plugins' | 'permissions',
    kind: SectionKind,
    map: Map<string, T>,
    builtin?: (name: string) => T | undefined,
  ): T[] => {
    const out: T[] = [];
    const names = fields[field] ?? [];
    const defined = refs.sections.get(kind);
    names.forEach((item, index) => {
      if (names.indexOf(item) !== index) {
        problem(field, `${shown(item)} is listed twice`);
        return;
      }
      const found = map.get(item) ?? builtin?.(item);
      if (found) out.push(found);
      else if (!defined?.has(item)) {
        problem(
          field,
          `there is no [${kind} ${item}] section${didYouMean(item, defined?.keys() ?? [])}${listOf(`${kind} sections`, defined?.keys() ?? [])}`,
        );
      }
    });
    return out;
  };
  const volumes = resolveList('volumes', 'volume', refs.volumes);
  // StarCluster's `PLUGINS = sge` needs no section: the queue (Slurm now) is built in.
  const plugins = resolveList('plugins', 'plugin', refs.plugins, (item) =>
    item.toLowerCase() === 'sge' ? { name: item, setupClass: 'sge', settings: {} } : undefined,
  );
  const permissions = resolveList('permissions', 'permission', refs.permissions);

  for (const [what, pick] of [
    ['MOUNT_PATH', (v: VolumeSettings) => v.mountPath],
    ['DEVICE', (v: VolumeSettings) => v.device],
  ] as const) {
    const seen = new Map<string, string>();
    for (const volume of volumes) {
      const value = pick(volume);
      if (value === undefined) continue;
      const other = seen.get(value);
      if (other !== undefined) problem('volumes', `volumes ${other} and ${volume.name} have the same ${what} ${value}`);
      else seen.set(value, volume.name);
    }
  }

  const nodeTypes = fields.node_instance_type;
  if (nodeTypes && fields.cluster_size !== undefined) {
    const counted = nodeTypes.items.reduce((sum, item) => sum + item.count, 0);
    if (counted > clusterSize - 1) {
      // StarCluster checks this at `start`, against the size it starts with (`start -s` may raise it).
      const { where, prefix } = at('node_instance_type');
      diagnostics.warn(
        where,
        `${prefix}: the counts add up to ${counted} workers, but CLUSTER_SIZE ${clusterSize} leaves ${clusterSize - 1} (the master is one of the ${clusterSize}): \`start\` refuses this template unless started with \`-s ${counted + 1}\` or more`,
      );
    }
  }
  if (fields.public_ips === false && fields.subnet_id === undefined) {
    problem('public_ips', 'False needs SUBNET_ID (nodes without public addresses must be in a VPC subnet)');
  }
  if (diagnostics.count > before) return undefined;

  const scriptsEntry = from.get('userdata_scripts');
  const userdataScripts = (fields.userdata_scripts ?? []).map((script) =>
    resolveConfigRelative(script, dirname(scriptsEntry?.file ?? section.file), env),
  );
  const defaults = defaultTemplate({ name, provider, clusterSize });
  return {
    name,
    ...(chain.length > 1 ? { extends: chain[chain.length - 2]?.name } : {}),
    provider,
    ...(fields.keyname !== undefined ? { keyname: fields.keyname } : {}),
    ...(key ? { key } : {}),
    clusterSize,
    clusterUser: fields.cluster_user ?? defaults.clusterUser,
    clusterShell: fields.cluster_shell ?? defaults.clusterShell,
    dnsPrefix: fields.dns_prefix ?? defaults.dnsPrefix,
    ...(fields.master_image_id !== undefined ? { masterImageId: fields.master_image_id } : {}),
    ...(fields.master_instance_type !== undefined ? { masterInstanceType: fields.master_instance_type } : {}),
    ...(fields.node_image_id !== undefined ? { nodeImageId: fields.node_image_id } : {}),
    ...(nodeTypes ? { nodeInstanceType: nodeTypes.defaultType } : {}),
    nodeInstanceTypes: nodeTypes?.items.map((item) => ({ ...item })) ?? [],
    ...(fields.availability_zone !== undefined ? { availabilityZone: fields.availability_zone } : {}),
    volumes,
    plugins,
    permissions,
    ...(fields.spot_bid !== undefined ? { spotBid: fields.spot_bid } : {}),
    forceSpotMaster: fields.force_spot_master ?? defaults.forceSpotMaster,
    userdataScripts,
    disableQueue: fields.disable_queue ?? defaults.disableQueue,
    ...(fields.master_is_exec_host !== undefined ? { masterIsExecHost: fields.master_is_exec_host } : {}),
    disableCloudinit: fields.disable_cloudinit ?? defaults.disableCloudinit,
    ...(fields.subnet_id !== undefined ? { subnetId: fields.subnet_id } : {}),
    ...(fields.public_ips !== undefined ? { publicIps: fields.public_ips } : {}),
    sharedFs: fields.shared_fs ?? defaults.sharedFs,
    sshCidr: fields.ssh_cidr ?? defaults.sshCidr,
    ...(fields.engines_per_node !== undefined ? { enginesPerNode: fields.engines_per_node } : {}),
    ...(fields.login_user !== undefined ? { loginUser: fields.login_user } : {}),
    ...(fields.tags !== undefined ? { tags: fields.tags } : {}),
    ...(fields.iam_profile !== undefined ? { iamProfile: fields.iam_profile } : {}),
    ...(fields.max_lifetime !== undefined ? { maxLifetime: fields.max_lifetime } : {}),
    ...(fields.idle_shutdown !== undefined ? { idleShutdown: fields.idle_shutdown } : {}),
    location: { file: section.file, line: section.line },
  };
}

/** A key written with a bad value is already reported; do not also call it missing. */
function chainHasBadValue(chain: RawSection[], key: string): boolean {
  return chain.some((s) => s.entries.get(key)?.value);
}
