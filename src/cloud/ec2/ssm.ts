import { requestHandlerFor } from './http.js';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { CloudError } from '../../errors.js';
import { registerSecret } from '../../secrets.js';
import type { Ec2ClientSettings } from './settings.js';

/**
 * Reads SSM parameters (the public AMI parameters under /aws/service/, or the user's own for
 * `resolve:ssm:`). @aws-sdk/client-ssm is loaded on the first read, so a cluster whose images are
 * all AMI ids never loads it.
 */
export class SsmParameters {
  private client: Promise<{ client: SSMClient; send: (name: string) => Promise<string | undefined> }> | undefined;

  constructor(private readonly settings: Ec2ClientSettings) {}

  /** The parameter's value, or undefined when the region has no parameter by that name. */
  async get(name: string): Promise<string | undefined> {
    this.client ??= this.open();
    const { send } = await this.client;
    return send(name);
  }

  async destroy(): Promise<void> {
    if (this.client) (await this.client).client.destroy();
  }

  private async open() {
    const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
    const s = this.settings;
    registerSecret(s.credentials?.secretAccessKey);
    const endpoint = s.ssmEndpoint;
    const client = new SSMClient({
      region: s.region,
      ...(endpoint ? { endpoint } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      retryMode: 'adaptive',
      maxAttempts: s.maxAttempts ?? 8,
      requestHandler: requestHandlerFor(s),
    });
    const send = async (name: string): Promise<string | undefined> => {
      try {
        const out = await client.send(new GetParameterCommand({ Name: name }));
        return out.Parameter?.Value;
      } catch (error) {
        const code = (error as { name?: unknown }).name;
        if (code === 'ParameterNotFound' || code === 'ParameterVersionNotFound') return undefined;
        const text = typeof code === 'string' ? code : 'Unknown';
        const message = error instanceof Error ? error.message : String(error);
        throw new CloudError(
          `Ssm${text.replace(/[^A-Za-z0-9]/g, '')}`,
          `ssm GetParameter ${name} failed: ${text}: ${message.slice(0, 400)}`,
          {
            cause: error,
            ...(text === 'AccessDeniedException'
              ? { hint: 'image aliases read public SSM parameters: allow ssm:GetParameter, or give an AMI id' }
              : {}),
          },
        );
      }
    };
    return { client, send };
  }
}
