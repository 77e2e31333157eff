import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { registerSecret } from '../../secrets.js';
import type { Ec2ClientSettings } from './settings.js';

/** Timeouts for every AWS call: the SDK waits forever for an answer by default. */
const TIMEOUTS = { connectionTimeout: 10_000, requestTimeout: 60_000, throwOnRequestTimeout: true } as const;

/** `http://USER:PASS@HOST:PORT` for [aws info] AWS_PROXY*, the form the proxy agents take. */
export function proxyUrl(proxy: NonNullable<Ec2ClientSettings['proxy']>): URL {
  const url = new URL(`http://${proxy.host}`);
  if (proxy.port !== undefined) url.port = String(proxy.port);
  if (proxy.user !== undefined) url.username = encodeURIComponent(proxy.user);
  if (proxy.pass !== undefined) {
    url.password = encodeURIComponent(proxy.pass);
    registerSecret(proxy.pass);
    registerSecret(url.password);
  }
  return url;
}

/**
 * The SDK's request handler for EC2 and SSM: its own NodeHttpHandler with our timeouts, and with
 * StarCluster's AWS_PROXY, AWS_PROXY_PORT, AWS_PROXY_USER and AWS_PROXY_PASS as proxy agents
 * (CONNECT tunnels for https endpoints, absolute-URI requests for http ones such as LocalStack).
 */
export function requestHandlerFor(settings: Pick<Ec2ClientSettings, 'proxy'>): NodeHttpHandler | typeof TIMEOUTS {
  if (!settings.proxy) return TIMEOUTS;
  const url = proxyUrl(settings.proxy);
  return new NodeHttpHandler({
    ...TIMEOUTS,
    httpAgent: new HttpProxyAgent(url),
    httpsAgent: new HttpsProxyAgent(url),
  });
}
