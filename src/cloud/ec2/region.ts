import { DEFAULT_PROFILE, loadSharedConfigFiles } from '@smithy/core/config';
import { join } from 'node:path';

export interface RegionChoice {
  region: string;
  /** Where it came from, for messages: `--region`, `[aws info] AWS_REGION_NAME`, `$AWS_REGION`, ... */
  source: string;
}

/**
 * The region, by the AWS CLI's rules with StarCluster's setting in its old place:
 * 1. `--region` (the CLI also passes it on as $STARCLUSTER_REGION, for code that has no flags);
 * 2. `[aws info] AWS_REGION_NAME`: StarCluster's region, pinned by the config whose AMI ids, key
 *    pairs and zones live there; it wins over the environment, as it did in StarCluster;
 * 3. `$AWS_REGION`, then `$AWS_DEFAULT_REGION`;
 * 4. `region` of the profile ($AWS_PROFILE, else `default`) in the shared config file
 *    ($AWS_CONFIG_FILE, else ~/.aws/config), read with the AWS SDK's own loader;
 * 5. us-east-1.
 */
export async function resolveRegion(input: {
  flag?: string | undefined;
  configRegion?: string | undefined;
  env?: NodeJS.ProcessEnv;
}): Promise<RegionChoice> {
  const env = input.env ?? process.env;
  if (input.flag) return { region: input.flag, source: '--region' };
  if (env.STARCLUSTER_REGION) return { region: env.STARCLUSTER_REGION, source: '--region' };
  if (input.configRegion) return { region: input.configRegion, source: '[aws info] AWS_REGION_NAME' };
  if (env.AWS_REGION) return { region: env.AWS_REGION, source: '$AWS_REGION' };
  if (env.AWS_DEFAULT_REGION) return { region: env.AWS_DEFAULT_REGION, source: '$AWS_DEFAULT_REGION' };
  const fromProfile = await profileRegion(env);
  if (fromProfile) return fromProfile;
  return { region: 'us-east-1', source: 'default' };
}

/** The profile's region from the shared config file, or undefined (no file, no profile, no region). */
async function profileRegion(env: NodeJS.ProcessEnv): Promise<RegionChoice | undefined> {
  const home = env.HOME ?? env.USERPROFILE;
  const configFilepath = env.AWS_CONFIG_FILE ?? (home ? join(home, '.aws', 'config') : undefined);
  const filepath = env.AWS_SHARED_CREDENTIALS_FILE ?? (home ? join(home, '.aws', 'credentials') : undefined);
  const profile = env.AWS_PROFILE || DEFAULT_PROFILE;
  try {
    const files = await loadSharedConfigFiles({
      ...(configFilepath ? { configFilepath } : {}),
      ...(filepath ? { filepath } : {}),
      ignoreCache: true,
    });
    const region = files.configFile[profile]?.region?.trim();
    return region ? { region, source: `profile ${profile} in ${configFilepath ?? '~/.aws/config'}` } : undefined;
  } catch {
    // An unreadable file is the SDK's business when it loads credentials; the region falls through.
    return undefined;
  }
}
