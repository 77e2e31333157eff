import { existsSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createLocalProvider } from '../cloud/local/index.js';
import { startCluster } from '../cluster/start.js';
import { terminateCluster } from '../cluster/terminate.js';
import { CONFIG_TEMPLATE_PATH, getClusterTemplate, loadConfig } from '../config/index.js';
import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { clusterStateDir } from '../paths.js';
import { packageRoot } from './bundle.js';
import { runJob } from './index.js';
import type { RunJobResult } from './run.js';

/**
 * `npm start` / `starcluster demo`: what a new user meets first. Starts a local cluster (the
 * config's `local` template, or the built-in one), runs the built-in jobs on it — pi, then star
 * periods on the Stripe 82 RR Lyrae when `../shared/data/s82-rrlyrae` is there, else on synthetic
 * light curves — and terminates the cluster, even when a job fails.
 */
export interface DemoOptions {
  io: IoHost;
  signal?: AbortSignal;
  /** --config; absent: the built-in templates/config.ini (its `local` template). */
  configPath?: string;
  /** Cluster name (default `demo`). */
  name?: string;
  /** Figures go to OUT/pi and OUT/star-periods (default ./starcluster-out). */
  outDir?: string;
  /** Light curves for star-periods (default ../shared/data/s82-rrlyrae next to the package, if present). */
  dataDir?: string;
  /** Override pi's samples (default the job's). */
  piSamples?: number;
  /** Limit the number of stars (default: all). */
  starLimit?: number;
  env?: NodeJS.ProcessEnv;
}

export interface DemoResult {
  cluster: string;
  nodes: number;
  jobs: RunJobResult[];
  terminated: boolean;
}

/** The Stripe 82 sample next to the project, when this checkout has it. */
export function defaultDemoData(): string | undefined {
  const dir = resolve(packageRoot, '..', 'shared', 'data', 's82-rrlyrae');
  return existsSync(dir) ? dir : undefined;
}

async function demoTemplate(
  configPath: string | undefined,
): Promise<{ template: ClusterTemplate; config: StarclusterConfig }> {
  const config = await loadConfig({ path: configPath ?? CONFIG_TEMPLATE_PATH });
  const template = getClusterTemplate(config, config.clusters.has('local') ? 'local' : undefined);
  if (template.provider !== 'local') {
    const builtIn = await loadConfig({ path: CONFIG_TEMPLATE_PATH });
    return { template: getClusterTemplate(builtIn, 'local'), config: builtIn };
  }
  return { template, config };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { io, signal } = options;
  const name = options.name ?? 'demo';
  const env = options.env ?? process.env;
  const { template, config } = await demoTemplate(options.configPath);
  const provider = createLocalProvider({ env });
  const started = await startCluster({
    name,
    template,
    config,
    io,
    provider,
    // Local nodes are processes on this machine: there is nothing to set up over SSH.
    skipSetup: true,
    stateDir: clusterStateDir(name, env),
    ...(signal ? { signal } : {}),
  });
  const result: DemoResult = { cluster: name, nodes: started.nodes.length, jobs: [], terminated: false };
  const outRoot = resolve(options.outDir ?? 'starcluster-out');
  try {
    const common = { target: { cluster: name }, io, env, ...(signal ? { signal } : {}) };
    result.jobs.push(
      await runJob({
        ...common,
        file: join(packageRoot, 'jobs', 'pi.ts'),
        params: options.piSamples ? { samples: String(options.piSamples) } : {},
        outDir: join(outRoot, 'pi'),
      }),
    );
    const data = options.dataDir ?? defaultDemoData();
    const starParams: Record<string, string> = data ? { data, format: 's82' } : {};
    if (options.starLimit) starParams.limit = String(options.starLimit);
    result.jobs.push(
      await runJob({
        ...common,
        file: join(packageRoot, 'jobs', 'star-periods.ts'),
        params: starParams,
        outDir: join(outRoot, 'star-periods'),
      }),
    );
  } finally {
    await terminateCluster({ name, config, io, provider, confirm: true, stateDir: clusterStateDir(name, env) });
    result.terminated = true;
    // An empty state folder is all terminate leaves of a local cluster; a non-empty one is kept.
    await rmdir(clusterStateDir(name, env)).catch(() => undefined);
  }
  return result;
}
