import { registerSecret } from '../secrets.js';
import { endpointFor } from './load.js';
import type { AwsSettings, StarclusterConfig } from './types.js';

/** What the EC2 client needs from the config. */
export interface AwsClientSettings {
  region: string;
  /** Absent: the SDK's own endpoint for the region. */
  endpoint?: string;
  /** From [aws info] when both keys are set; absent means the SDK's standard credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** [aws info] AWS_PROXY*, when set. */
  proxy?: AwsSettings['proxy'];
}

/**
 * Region: `--region`, then `[aws info] AWS_REGION_NAME`, then `$AWS_REGION` / `$AWS_DEFAULT_REGION`,
 * then us-east-1. Endpoint: `$AWS_ENDPOINT_URL_EC2` / `$AWS_ENDPOINT_URL` (LocalStack), else one
 * built from AWS_REGION_HOST/AWS_PORT/AWS_IS_SECURE/AWS_EC2_PATH. Credentials: [aws info] or the chain.
 */
export function awsClientSettings(
  config: StarclusterConfig,
  regionFlag?: string,
  env: NodeJS.ProcessEnv = process.env,
): AwsClientSettings {
  const aws = config.aws;
  const region = regionFlag || aws.regionName || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const endpoint = endpointFor(aws, env);
  registerSecret(aws.secretAccessKey);
  registerSecret(aws.proxy?.pass);
  return {
    region,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(aws.accessKeyId && aws.secretAccessKey
      ? { credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey } }
      : {}),
    ...(aws.proxy ? { proxy: aws.proxy } : {}),
  };
}
