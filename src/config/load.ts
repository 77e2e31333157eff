import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../errors.js';
import { registerScriptSecrets, registerSecret, SECRET_NAME } from '../secrets.js';
import { buildTemplate, resolveExtends, type References } from './cluster-template.js';
import { Diagnostics, didYouMean, shown } from './diagnostics.js';
import type { Located } from './diagnostics.js';
import { scanConfigText, sectionLabel } from './locate.js';
import type { RawSection, SectionKind } from './locate.js';
import { locateConfigPath, resolveConfigRelative } from './paths.js';
import { clusterSchema, keySchema, pluginSchema, volumeSchema } from './schema.js';
import type { ClusterFields } from './schema.js';
import {
  buildAws,
  buildGlobal,
  buildPermission,
  clustersUsing,
  listOf,
  parseSection,
  type Merged,
} from './sections.js';
import type {
  ClusterTemplate,
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
