import type { AwsSettings } from '../../config/types.js';
import { registerSecret } from '../../secrets.js';

/** What an EC2 client needs: region, optional endpoint (LocalStack), optional static credentials. */
export interface Ec2ClientSettings {
  region: string;
  /** How the region was chosen (see resolveRegion), for messages. */
  regionSource?: string;
  endpoint?: string;
  /** SSM's endpoint ($AWS_ENDPOINT_URL_SSM / $AWS_ENDPOINT_URL, e.g. LocalStack); absent: the region's own. */
  ssmEndpoint?: string;
  /** Service Quotas' endpoint ($AWS_ENDPOINT_URL_SERVICE_QUOTAS / $AWS_ENDPOINT_URL); absent: the region's own. */
  quotasEndpoint?: string;
  /** Absent: the standard AWS credential chain (env, profile, IMDS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts?: number;
  /** [global] REFRESH_INTERVAL: the longest pause between two polls while waiting (seconds); default 10. */
  pollSeconds?: number;
  /** [aws info] AWS_PROXY, AWS_PROXY_PORT, AWS_PROXY_USER, AWS_PROXY_PASS: every AWS call goes through it. */
  proxy?: AwsSettings['proxy'];
}

/**
 * Client settings from `[aws info]` and the environment, used until the config layer's
 * `awsClientSettings()` is wired in. Order: explicit settings, then `AWS_REGION`/`AWS_ENDPOINT_URL`.
 */
export function ec2SettingsFromConfig(
  aws: AwsSettings | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Ec2ClientSettings {
  const region = aws?.regionName ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const endpoint = aws?.endpoint ?? env.AWS_ENDPOINT_URL_EC2 ?? env.AWS_ENDPOINT_URL;
  const ssmEndpoint = ssmEndpointFrom(env);
  const quotasEndpoint = env.AWS_ENDPOINT_URL_SERVICE_QUOTAS || env.AWS_ENDPOINT_URL || undefined;
  const settings: Ec2ClientSettings = {
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(ssmEndpoint ? { ssmEndpoint } : {}),
    ...(quotasEndpoint ? { quotasEndpoint } : {}),
  };
  if (aws?.proxy) {
    registerSecret(aws.proxy.pass);
    settings.proxy = aws.proxy;
  }
  if (aws?.accessKeyId && aws.secretAccessKey) {
    registerSecret(aws.secretAccessKey);
    settings.credentials = { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey };
  }
  registerSecret(env.AWS_SECRET_ACCESS_KEY);
  registerSecret(env.AWS_SESSION_TOKEN);
  return settings;
}

/** SSM's endpoint from the environment, as the AWS SDKs read it; undefined: the region's own. */
export function ssmEndpointFrom(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_ENDPOINT_URL_SSM || env.AWS_ENDPOINT_URL || undefined;
}
