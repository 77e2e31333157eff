import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintMatches, fingerprintsOfPrivateKey } from '../../../src/cloud/ec2/fingerprint.js';
import { onDemandPrice, supportsPlacementGroup } from '../../../src/cloud/ec2/prices.js';

function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('key fingerprints', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const fp = fingerprintsOfPrivateKey(pkcs1);

  it('has the shapes EC2 shows: 59-char SHA-1 and 47-char MD5', () => {
    expect(fp.sha1Private).toMatch(/^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
    expect(fp.md5Public).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  });

  // The recipes AWS documents, run with openssl as an independent implementation.
  it.runIf(opensslAvailable())(
    'matches openssl for AWS-made (SHA-1 of PKCS#8) and imported (MD5 of public DER)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'fp-'));
      const file = join(dir, 'key.pem');
      writeFileSync(file, pkcs1, { mode: 0o600 });
      const sha1 = execFileSync('sh', [
        '-c',
        `openssl pkcs8 -in ${file} -nocrypt -topk8 -outform DER | openssl sha1 -c`,
      ])
        .toString()
        .trim()
        .split(/\s+/)
        .pop();
      const md5 = execFileSync('sh', ['-c', `openssl pkey -in ${file} -pubout -outform DER | openssl md5 -c`])
        .toString()
        .trim()
        .split(/\s+/)
        .pop();
      expect(fp.sha1Private).toBe(sha1);
      expect(fp.md5Public).toBe(md5);
      rmSync(dir, { recursive: true, force: true });
    },
  );

  it('matches either form, case-insensitively, and rejects another key', () => {
    expect(fingerprintMatches(fp.sha1Private.toUpperCase(), fp)).toBe(true);
    expect(fingerprintMatches(fp.md5Public, fp)).toBe(true);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    expect(fingerprintMatches(fp.sha1Private, fingerprintsOfPrivateKey(other.toString()))).toBe(false);
  });

  it('gives ED25519 keys the SHA-256 OpenSSH form', () => {
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const f = fingerprintsOfPrivateKey(ed);
    expect(f.sha256OpenSsh).toMatch(/^[A-Za-z0-9+/]{43}$/);
  });
});

describe('price table and placement groups', () => {
  it('knows common types and says nothing about unknown ones', () => {
    expect(onDemandPrice('m5.large')).toBeGreaterThan(0);
    expect(onDemandPrice('z9.imaginary')).toBeUndefined();
    expect(supportsPlacementGroup('c5.large')).toBe(true);
    expect(supportsPlacementGroup('t3.micro')).toBe(false);
  });
});
