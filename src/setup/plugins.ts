import type { z } from 'zod';
import type { NodeRecord } from '../cloud/provider.js';
import type { VolumeSettings } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import type { RemoteHost } from '../remote/types.js';
import type { InstallOptions, InstallResult } from './packages.js';

/**
 * The plugin API: StarCluster's ClusterSetup (run / on_add_node / on_remove_node / on_restart / on_shutdown)
 * in TypeScript. A plugin's settings are the keys of its `[plugin NAME]` section, validated by
 * its zod schema (use z.coerce for numbers and booleans: INI values are strings).
 */

/** One node as a plugin sees it. */
export interface PluginNode {
  /** `master`, `node001`... (with the DNS prefix when DNS_PREFIX is on). */
  alias: string;
  id: string;
  role: 'master' | 'node';
  privateIp?: string;
  record: NodeRecord;
  /** SSH as root. */
  ssh: RemoteHost;
  /** SSH as another user (e.g. the cluster user). */
  as(user: string): RemoteHost;
  /**
   * Installs packages with the node's package manager (apt or dnf) unless they are there: the
   * distribution's names, or setup's roles (`nfs-client`, `sshfs`...). See src/setup/packages.ts.
   */
  install(packages: readonly string[], options?: InstallOptions): Promise<InstallResult>;
}

export interface PluginContext<S> {
  cluster: string;
  settings: S;
  nodes: PluginNode[];
  master: PluginNode;
  /** CLUSTER_USER and CLUSTER_SHELL. */
  user: string;
  shell: string;
  volumes: VolumeSettings[];
  /** `~/.starcluster/clusters/NAME`, for files a plugin keeps locally. */
  stateDir: string;
  io: IoHost;
  /** Tells the user something (shown under the plugin's progress line). */
  log(message: string): void;
  signal?: AbortSignal;
}

export interface PluginDefinition<S = Record<string, unknown>> {
  /** Short name shown in progress (`pkginstaller`). */
  name: string;
  /** Validates the `[plugin]` section's keys (lower-cased); unknown keys are errors unless the schema allows them. */
  settings?: z.ZodType<S>;
  /** After node setup, on start, restart and runplugin. */
  run(ctx: PluginContext<S>): Promise<void>;
  /** After addnode/resize, once per new node. */
  onAddNode?(node: PluginNode, ctx: PluginContext<S>): Promise<void>;
  /** Before a node is removed (plugins are called in reverse order). */
  onRemoveNode?(node: PluginNode, ctx: PluginContext<S>): Promise<void>;
  /** Before stop/terminate (reverse order); failures are reported, not fatal. */
  onShutdown?(ctx: PluginContext<S>): Promise<void>;
  /**
   * Before `restart` reboots the nodes (reverse order, as StarCluster's on_restart); `run` is called
   * again after the reboot. Failures are reported, not fatal.
   */
  onRestart?(ctx: PluginContext<S>): Promise<void>;
}

/** Declares a plugin (an identity function: it exists for the types). */
export function definePlugin<S>(definition: PluginDefinition<S>): PluginDefinition<S> {
  return definition;
}

/** Runs `work` on every node at once (bounded by the SSH pool). */
export async function onAllNodes(
  nodes: readonly PluginNode[],
  work: (node: PluginNode) => Promise<void>,
): Promise<void> {
  await Promise.all(nodes.map(work));
}

/** Splits a StarCluster list setting (`a, b c`) into items. */
export function listSetting(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
