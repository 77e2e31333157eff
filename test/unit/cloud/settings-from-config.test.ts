import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProvider } from '../../../src/cloud/index.js';
import { instanceWaitDelays } from '../../../src/cloud/ec2/calls.js';
import type { Ec2Provider } from '../../../src/cloud/ec2/provider.js';
import { loadConfig } from '../../../src/config/index.js';
import { tempConfig } from '../config/_helpers.js';

describe('[global] REFRESH_INTERVAL and [aws info] AWS_PROXY reach the EC2 client', () => {
  it('caps the pause between polls at REFRESH_INTERVAL and routes calls through the proxy', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sc-home-'));
    const env = { HOME: home, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' };
    const path = tempConfig(
      '[global]\nREFRESH_INTERVAL = 15\n[aws info]\nAWS_PROXY = proxy.internal\nAWS_PROXY_PORT = 3128\nAWS_PROXY_USER = me\nAWS_PROXY_PASS = s3cret\n',
    );
    const config = await loadConfig({ path, env });
    const provider = (await createProvider({ provider: 'ec2' }, config, { env })) as Ec2Provider;
    expect(provider.settings).toMatchObject({
      pollSeconds: 15,
      proxy: { host: 'proxy.internal', port: 3128, user: 'me', pass: 's3cret' },
    });
    expect(instanceWaitDelays(provider.settings)).toEqual({ minDelay: 1, maxDelay: 15 });
    expect(instanceWaitDelays({})).toEqual({ minDelay: 1, maxDelay: 10 });
  });
});
