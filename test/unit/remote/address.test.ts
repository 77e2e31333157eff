import { describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { networkInterfaces } from 'node:os';
import { isFleetAddress, isOnLocalNetwork, sshAddress } from '../../../src/remote/address.js';
import { mapLimit } from '../../../src/remote/semaphore.js';

const node = (privateIp?: string, publicIp?: string) => ({ alias: 'node001', id: 'i-1', privateIp, publicIp });

describe('which address we ssh to', () => {
  it('uses the private IP inside the fleet range or loopback, whatever PUBLIC_IPS says', () => {
    expect(sshAddress(node('198.18.0.9', '54.1.2.3'), true)).toBe('198.18.0.9');
    expect(sshAddress(node('198.19.255.1', '54.1.2.3'), undefined)).toBe('198.19.255.1');
    expect(sshAddress(node('127.0.0.2', '54.1.2.3'), true)).toBe('127.0.0.2');
    expect(isFleetAddress('198.20.0.1')).toBe(false);
  });

  it('uses the public IP when PUBLIC_IPS is true (or unset and there is one), else the private IP', () => {
    expect(sshAddress(node('10.0.0.5', '54.1.2.3'), true)).toBe('54.1.2.3');
    expect(sshAddress(node('10.0.0.5', '54.1.2.3'), undefined)).toBe('54.1.2.3');
    expect(sshAddress(node('10.0.0.5', '54.1.2.3'), false)).toBe('10.0.0.5');
    // With PUBLIC_IPS unset, a private IP alone is used where this machine is on its network.
    expect(sshAddress(node('10.0.0.5'), undefined, () => true)).toBe('10.0.0.5');
  });

  it("PUBLIC_IPS unset, no public IP, a private IP on none of this machine's networks: fails at once, saying what to set", () => {
    let error: unknown;
    try {
      sshAddress(node('172.31.250.9'), undefined, () => false);
    } catch (e) {
      error = e;
    }
    expect(StarclusterError.is(error) && error.code).toBe('NoPublicAddress');
    expect((error as Error).message).toBe(
      "node001 (i-1) has no public IP address, and its private address 172.31.250.9 is on none of this machine's networks, so ssh cannot reach it from here",
    );
    expect((error as StarclusterError).hint).toMatch(/PUBLIC_IPS = True.*SUBNET_ID.*PUBLIC_IPS = False/);
    expect((error as StarclusterError).hint).not.toMatch(/security group/);
  });

  it("knows this machine's own networks (its interfaces' subnets), and no other", () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i?.family === 'IPv4' && !i.internal);
    if (own) expect(isOnLocalNetwork(own.address)).toBe(true);
    expect(isOnLocalNetwork('127.0.0.1')).toBe(true);
    expect(isOnLocalNetwork('203.0.113.77')).toBe(false); // TEST-NET-3 (this machine sits in TEST-NET-1)
    expect(isOnLocalNetwork('not-an-ip')).toBe(false);
  });

  it('fails clearly when the needed address is missing', () => {
    let error: unknown;
    try {
      sshAddress(node('10.0.0.5'), true);
    } catch (e) {
      error = e;
    }
    expect(StarclusterError.is(error) && error.code).toBe('NoAddress');
    expect((error as Error).message).toBe('node001 (i-1) has no public IP address to ssh to');
  });
});

describe('mapLimit', () => {
  it('never runs more than the limit at once and keeps order', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active -= 1;
      return n * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(peak).toBe(3);
  });
});
