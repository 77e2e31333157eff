import { createProvider } from '../cloud/index.js';
import type { Account } from '../cloud/account.js';
import type { Provider } from '../cloud/provider.js';
import { StarclusterError } from '../errors.js';
import type { StarclusterConfig } from '../config/types.js';
import { connectToCluster } from '../deploy/index.js';
import type { Client, DirectView, LoadBalancedView } from '../engines/index.js';

/**
 * What `starcluster shell` puts in scope, as StarCluster's IPython shell had `cfg`, `ec2` and, with
 * `-p CLUSTER`, an IPython.parallel client: the config, the account's EC2 client
 * (@aws-sdk/client-ec2's `EC2Client`, for `ec2.send(new DescribeInstancesCommand({}))`), the
 * provider, and for a cluster a connected engine `Client` with a direct and a load-balanced view.
 */
export interface ShellScope {
  cfg: StarclusterConfig;
  /** The provider the account commands use (EC2). */
  provider: Provider;
  /** The AWS SDK's EC2Client of the account, or undefined for a provider without one. */
  ec2: unknown;
  /** With a cluster: a connected engine client and views over all its engines. */
  client?: Client;
  dview?: DirectView;
  lview?: LoadBalancedView;
  /** The name of the cluster the client is connected to. */
  cluster?: string;
}

export interface ShellSession {
  scope: ShellScope;
  /** What the banner lists: each name in scope and what it is. */
  names: { name: string; what: string }[];
  close(): Promise<void>;
}

export async function openShell(opts: {
  config: StarclusterConfig;
  cluster?: string;
  region?: string;
  provider?: Provider;
  env?: NodeJS.ProcessEnv;
}): Promise<ShellSession> {
  const provider =
    opts.provider ??
    (await createProvider(undefined, opts.config, {
      kind: 'ec2',
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    }));
  const account = accountOf(provider);
  const scope: ShellScope = { cfg: opts.config, provider, ec2: account?.sdkClient };
  const names = [
    { name: 'cfg', what: `the config (${opts.config.path || 'none'})` },
    { name: 'provider', what: `the ${provider.kind} provider` },
    ...(account
      ? [{ name: 'ec2', what: `EC2Client of the account (${account.region}); ec2.send(new Command(...))` }]
      : []),
  ];
  if (opts.cluster) {
    const client = await connectToCluster(opts.cluster, opts.env ? { env: opts.env } : {});
    scope.client = client;
    scope.cluster = opts.cluster;
    scope.dview = client.directView('all');
    scope.lview = client.loadBalancedView();
    names.push(
      { name: 'client', what: `engine Client of ${opts.cluster} (client.ids: its engines)` },
      { name: 'dview', what: 'DirectView on all engines' },
      { name: 'lview', what: 'LoadBalancedView' },
    );
  }
  return {
    scope,
    names,
    close: async () => {
      await scope.client?.close();
      account?.close();
    },
  };
}

/** The provider's account, or undefined for a provider without one (a local cluster's shell has no `ec2`). */
function accountOf(provider: Provider): Account | undefined {
  try {
    return provider.account();
  } catch (error) {
    if (StarclusterError.is(error) && error.code === 'NotSupportedByProvider') return undefined;
    throw error;
  }
}
