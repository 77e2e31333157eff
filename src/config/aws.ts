import { registerSecret } from '../secrets.js';
import { endpointFor } from './sections.js';
import type { AwsSettings, StarclusterConfig } from './types.js';

/** What the EC2 client needs from the config, besides the region (src/cloud/ec2/region.ts chooses it). */
export interface AwsClientSettings {
  /** Absent: the SDK's own endpoint for the region. */
  endpoint?: string;
  /** From [aws info] when both keys are set; absent means the SDK's standard credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** [aws info] AWS_PROXY*, when set. */
  proxy?: AwsSettings['proxy'];
}

/**
 * Endpoint: `$AWS_ENDPOINT_URL_EC2` / `$AWS_ENDPOINT_URL` (LocalStack), else one built from
 * AWS_REGION_HOST/AWS_PORT/AWS_IS_SECURE/AWS_EC2_PATH. Credentials: [aws info] or the chain.
 * The region is not decided here: it may need ~/.aws/config, which the AWS SDK reads (the
 * order is in src/cloud/ec2/region.ts; [aws info] AWS_REGION_NAME is one step of it).
 */
export function awsClientSettings(config: StarclusterConfig, env: NodeJS.ProcessEnv = process.env): AwsClientSettings {
  const aws = config.aws;
  const endpoint = endpointFor(aws, env);
  registerSecret(aws.secretAccessKey);
  registerSecret(aws.proxy?.pass);
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(aws.accessKeyId && aws.secretAccessKey
      ? { credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey } }
      : {}),
    ...(aws.proxy ? { proxy: aws.proxy } : {}),
  };
}
