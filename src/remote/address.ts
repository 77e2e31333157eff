import { networkInterfaces } from 'node:os';
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

/** True when the IPv4 address is on one of this machine's networks (an interface's subnet). */
export function isOnLocalNetwork(ip: string): boolean {
  const value = ipv4(ip);
  if (value === undefined) return false;
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) {
      const address = i.family === 'IPv4' ? ipv4(i.address) : undefined;
      const mask = ipv4(i.netmask);
      if (address !== undefined && mask !== undefined && (address & mask) >>> 0 === (value & mask) >>> 0) return true;
    }
  return false;
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((n, p) => ((n << 8) | p) >>> 0, 0);
}

/**
 * The address we SSH to: the public IP when PUBLIC_IPS is true (StarCluster's default outside a
 * VPC), else the private IP. A private IP inside the test fleet's range or loopback always wins:
 * LocalStack invents public IPs that nothing answers on.
 *
 * With PUBLIC_IPS unset and no public IP, the private IP is used only where this machine is on its
 * network: anywhere else, waiting for SSH on it would time out after minutes and seem to blame the
 * security group, so it fails at once saying what is missing.
 */
export function sshAddress(
  node: Pick<NodeRecord, 'alias' | 'id' | 'privateIp' | 'publicIp'>,
  publicIps: boolean | undefined,
  onLocalNetwork: (ip: string) => boolean = isOnLocalNetwork,
): string {
  const { privateIp, publicIp } = node;
  if (privateIp && (isFleetAddress(privateIp) || isLoopback(privateIp))) return privateIp;
  if (publicIps === undefined && !publicIp && privateIp && !onLocalNetwork(privateIp))
    throw new RemoteError(
      'NoPublicAddress',
      `${node.alias} (${node.id}) has no public IP address, and its private address ${privateIp} is on none of this machine's networks, so ssh cannot reach it from here`,
      {
        hint:
          'set PUBLIC_IPS = True (starcluster then asks EC2 for a public address per node), or use a subnet that gives ' +
          'public addresses (SUBNET_ID); if this machine does reach the VPC privately (VPN, peering, a host in the VPC), ' +
          'set PUBLIC_IPS = False',
      },
    );
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
