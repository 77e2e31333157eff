import { EC2Client } from '@aws-sdk/client-ec2';
import { registerSecret } from '../../secrets.js';
import { toCloudError } from './errors.js';
import { requestHandlerFor } from './http.js';
import type { Ec2ClientSettings } from './settings.js';

/** The SDK waiter's backoff for instance states: 1 s up to REFRESH_INTERVAL (default 10 s). */
export function instanceWaitDelays(settings: Pick<Ec2ClientSettings, 'pollSeconds'>): {
  minDelay: number;
  maxDelay: number;
} {
  const maxDelay = Math.max(1, settings.pollSeconds ?? 10);
  return { minDelay: 1, maxDelay };
}

/**
 * The plumbing every EC2 call goes through: the client (adaptive retries, timeouts, the proxy) and
 * `call`, which turns every AWS failure into a CloudError (./errors.ts).
 */
export class Ec2Calls {
  readonly client: EC2Client;
  readonly region: string;

  /**
   * `client`: an EC2Client to use instead of one made from the settings (a fake EC2 in unit tests
   * subclasses EC2Client and answers `send`; the SDK's paginators and waiters require an EC2Client).
   */
  constructor(
    readonly settings: Ec2ClientSettings,
    client?: EC2Client,
  ) {
    registerSecret(settings.credentials?.secretAccessKey);
    registerSecret(settings.credentials?.sessionToken);
    this.region = settings.region;
    // The SDK would print a Node-version notice to stderr itself; the library never prints.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client =
      client ??
      new EC2Client({
        region: settings.region,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        ...(settings.credentials ? { credentials: settings.credentials } : {}),
        retryMode: 'adaptive',
        maxAttempts: settings.maxAttempts ?? 8,
        // Timeouts (the SDK waits forever for an answer by default: a call whose answer is lost would
        // hang the CLI; a timed-out call is retried like any other transient failure) and AWS_PROXY*.
        requestHandler: requestHandlerFor(settings),
      });
  }

  destroy(): void {
    this.client.destroy();
  }

  // --- plumbing ----------------------------------------------------------------------------

  protected async call<T>(action: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toCloudError(action, error);
    }
  }

  protected collect<T>(action: string, request: () => Promise<T>): Promise<T> {
    return this.call(action, request);
  }
}
