import { describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { isFleetAddress, sshAddress } from '../../../src/remote/address.js';
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
    expect(sshAddress(node('10.0.0.5'), undefined)).toBe('10.0.0.5');
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
