import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ec2Api } from '../../../src/cloud/ec2/api.js';

/**
 * [aws info] AWS_PROXY*: every EC2 call goes through the proxy, with its credentials, and the
 * password reaches no message. A real HTTP proxy (the `proxy` package) and a stand-in EC2 endpoint,
 * both on loopback.
 */

const PASS = 'pr0xy p@ss:word';
const REGIONS = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r1</requestId>
<regionInfo><item><regionName>us-east-1</regionName><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint></item></regionInfo>
</DescribeRegionsResponse>`;

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

describe('AWS_PROXY', () => {
  const seenByProxy: string[] = [];
  const seenByEc2: string[] = [];
  let ec2: Server;
  let proxy: Server;
  let ec2Port = 0;
  let proxyPort = 0;

  beforeAll(async () => {
    ec2 = createServer((req: IncomingMessage, res) => {
      seenByEc2.push(String(req.headers['x-forwarded-for'] ?? req.headers.via ?? 'direct'));
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(REGIONS);
      });
    });
    ec2Port = await listen(ec2);
    const server = createProxy(createServer());
    server.authenticate = (req) => {
      const header = req.headers['proxy-authorization'] ?? '';
      seenByProxy.push(header);
      return header === `Basic ${Buffer.from(`user:${PASS}`).toString('base64')}`;
    };
    proxy = server;
    proxyPort = await listen(proxy);
  });
  afterAll(() => {
    ec2.close();
    proxy.close();
  });

  const api = (pass: string) =>
    new Ec2Api({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${ec2Port}`,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      maxAttempts: 1,
      proxy: { host: '127.0.0.1', port: proxyPort, user: 'user', pass },
    });

  it('sends every call through the proxy with its user and password', async () => {
    const regions = await api(PASS).describeRegions();
    expect(regions.map((r) => r.RegionName)).toEqual(['us-east-1']);
    expect(seenByProxy).toHaveLength(1);
    expect(seenByEc2).toHaveLength(1);
    expect(seenByEc2[0]).not.toBe('direct'); // the proxy added its Via header
  });

  it('fails with the proxy refusing a wrong password, which no message shows', async () => {
    const wrong = 'wr0ng-secret-pass';
    const error = await api(wrong)
      .describeRegions()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(seenByEc2).toHaveLength(1);
    const text = `${(error as Error).message} ${JSON.stringify(error)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(encodeURIComponent(wrong));
  });
});
