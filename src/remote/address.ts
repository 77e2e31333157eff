import type { NodeRecord } from '../cloud/provider.js';
import { RemoteError } from '../errors.js';

/** 198.18.0.0/15: the test fleet's range (RFC 2544 benchmarking addresses). */
export function isFleetAddress(ip: string): boolean {
  const parts = ip.split('.').map(Number);
  return parts.length === 4 && parts[0] === 198 && (parts[1] === 18 || parts[1] === 19);
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/**
 * The address we SSH to: the public IP when PUBLIC_IPS is true (StarCluster's default outside a
 * VPC), else the private IP. A private IP inside the test fleet's range or loopback always wins:
 * LocalStack invents public IPs that nothing answers on.
 */
export function sshAddress(
  node: Pick<NodeRecord, 'alias' | 'id' | 'privateIp' | 'publicIp'>,
  publicIps: boolean | undefined,
): string {
  const { privateIp, publicIp } = node;
  if (privateIp && (isFleetAddress(privateIp) || isLoopback(privateIp))) return privateIp;
  const address = publicIps === false ? privateIp : (publicIp ?? (publicIps === undefined ? privateIp : undefined));
  if (!address) {
    throw new RemoteError(
      'NoAddress',
      `${node.alias} (${node.id}) has no ${publicIps === false ? 'private' : 'public'} IP address to ssh to`,
      {
        hint:
          publicIps === false
            ? 'is the instance running?'
            : 'set PUBLIC_IPS = False to use private IPs (from inside the VPC)',
      },
    );
  }
  return address;
}
