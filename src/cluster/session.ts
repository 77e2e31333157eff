import { createProvider } from '../cloud/index.js';
import type { Account } from '../cloud/account.js';
import { loadConfig } from '../config/index.js';
import { getClusterTemplate } from '../config/templates.js';
import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import { StarclusterError } from '../errors.js';
import { emptyConfig } from '../model/template.js';

/**
 * The config for commands that also work without one (terminate, listclusters, the account
 * listings: they need only credentials, which the AWS chain can provide): a missing file gives
 * an empty config; a broken one is still an error.
 */
export async function loadConfigOrEmpty(
  path?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StarclusterConfig> {
  try {
    return await loadConfig({ ...(path ? { path } : {}), env });
  } catch (error) {
    if (StarclusterError.is(error) && error.code === 'ConfigNotFound' && !path) return emptyConfig();
    throw error;
  }
}

/** Config and template for `start` (-c TEMPLATE, else DEFAULT_TEMPLATE). */
export async function loadTemplate(
  path: string | undefined,
  templateName: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ config: StarclusterConfig; template: ClusterTemplate }> {
  const config = await loadConfig({ ...(path ? { path } : {}), env });
  return { config, template: getClusterTemplate(config, templateName) };
}

/** The EC2 account (config or an empty one, `--region`), for the account-level commands. */
export async function openAccount(path: string | undefined, region: string | undefined): Promise<Account> {
  const config = await loadConfigOrEmpty(path);
  const provider = await createProvider(undefined, config, { kind: 'ec2', ...(region ? { region } : {}) });
  return provider.account();
}
