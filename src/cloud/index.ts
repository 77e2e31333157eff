import { awsClientSettings } from '../config/aws.js';
import type { ClusterTemplate, ProviderKind, StarclusterConfig } from '../config/types.js';
import type { Provider } from './provider.js';
import type { Ec2ClientSettings } from './ec2/settings.js';
import type { Ec2ProviderOptions } from './ec2/provider.js';

export interface CreateProviderOptions {
  /** Overrides the template's PROVIDER (commands that work from tags alone have no template). */
  kind?: ProviderKind;
  /** EC2 client settings; default from `[aws info]` and the environment. */
  ec2?: Ec2ClientSettings;
  ec2Options?: Ec2ProviderOptions;
  /** The --region flag (wins over everything: see src/cloud/ec2/region.ts for the order). */
  region?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The provider a cluster runs on: EC2 (default) or processes on this machine (`PROVIDER = local`).
 * Both are loaded lazily, so a local cluster never loads the AWS SDK (test/unit/cloud/lazy-sdk.test.ts
 * checks it): nothing outside src/cloud imports cloud/ec2, and only `import type` reaches it here.
 */
export async function createProvider(
  template: Pick<ClusterTemplate, 'provider'> | undefined,
  config:
    (Pick<StarclusterConfig, 'aws'> & { global?: Pick<StarclusterConfig['global'], 'refreshInterval'> }) | undefined,
  opts: CreateProviderOptions = {},
): Promise<Provider> {
  const kind = opts.kind ?? template?.provider ?? 'ec2';
  if (kind === 'local') return createLocal(opts.env);
  const ec2 = await import('./ec2/index.js');
  if (opts.ec2) return new ec2.Ec2Provider(opts.ec2, opts.ec2Options);
  const env = opts.env ?? process.env;
  const { region, source } = await ec2.resolveRegion({
    flag: opts.region,
    configRegion: config?.aws.regionName,
    env,
  });
  const base = ec2.ec2SettingsFromConfig(undefined, env);
  const fromConfig = config ? awsClientSettings(config as StarclusterConfig, env) : {};
  const settings: Ec2ClientSettings = {
    ...base,
    ...(fromConfig.endpoint ? { endpoint: fromConfig.endpoint } : {}),
    ...(fromConfig.credentials ? { credentials: fromConfig.credentials } : {}),
    ...(fromConfig.proxy ? { proxy: fromConfig.proxy } : {}),
    ...(config?.global?.refreshInterval !== undefined ? { pollSeconds: config.global.refreshInterval } : {}),
    region,
    regionSource: source,
  };
  return new ec2.Ec2Provider(settings, opts.ec2Options);
}

async function createLocal(env?: NodeJS.ProcessEnv): Promise<Provider> {
  const { createLocalProvider } = await import('./local/index.js');
  return createLocalProvider(env ? { env } : {});
}

/** True when this machine has a local (process) cluster of that name. */
export async function hasLocalCluster(name: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const { hasLocalState } = await import('./local/index.js');
  return hasLocalState(name, env);
}
