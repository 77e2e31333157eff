import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';

/**
 * Key-pair fingerprints as EC2 reports them, computed from a local private key file, so `start`
 * can tell whether KEY_LOCATION is the key of the pair named KEYNAME before it launches anything.
 * - a pair EC2 made (CreateKeyPair): SHA-1 of the private key as PKCS#8 DER (59 hex characters
 *   with colons);
 * - an RSA pair that was imported (ImportKeyPair): MD5 of the public key as DER (47 characters);
 * - an ED25519 pair: SHA-256 of the OpenSSH public key blob, base64 without padding.
 * LocalStack (moto) differs for pairs it makes: SHA-1 (RSA) or SHA-256 (ED25519) of the public
 * key DER, in hex. Those forms are accepted too: they still tie the file to the pair.
 */
export interface KeyFingerprints {
  /** SHA-1 of the PKCS#8 DER private key (AWS-made pairs). */
  sha1Private: string;
  /** MD5 of the DER public key (imported RSA pairs). */
  md5Public: string;
  /** SHA-256 of the OpenSSH public key blob, base64 (ED25519 pairs). */
  sha256OpenSsh?: string;
  /** SHA-1 and SHA-256 of the DER public key (LocalStack/moto's forms for pairs it makes). */
  sha1Public: string;
  sha256Public: string;
}

function colonHex(buffer: Buffer): string {
  return (buffer.toString('hex').match(/../g) ?? []).join(':');
}

/** Fingerprints of a PEM private key (PKCS#1 or PKCS#8). Throws on a key Node cannot read. */
export function fingerprintsOfPrivateKey(pem: string): KeyFingerprints {
  const key = createPrivateKey(pem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const pub = createPublicKey(key);
  const spki = pub.export({ type: 'spki', format: 'der' });
  const result: KeyFingerprints = {
    sha1Private: colonHex(createHash('sha1').update(pkcs8).digest()),
    md5Public: colonHex(createHash('md5').update(spki).digest()),
    sha1Public: colonHex(createHash('sha1').update(spki).digest()),
    sha256Public: colonHex(createHash('sha256').update(spki).digest()),
  };
  if (key.asymmetricKeyType === 'ed25519') {
    // The raw 32-byte key is the tail of the SPKI DER; the OpenSSH blob is string "ssh-ed25519", string key.
    const raw = spki.subarray(spki.length - 32);
    const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
    result.sha256OpenSsh = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  }
  return result;
}

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** Normalises a fingerprint for comparison (case, and a `SHA256:`/`MD5:` prefix). */
export function normaliseFingerprint(fingerprint: string): string {
  return fingerprint
    .trim()
    .replace(/^(sha256|md5):/i, '')
    .toLowerCase();
}

/** True when the EC2 fingerprint is one of the forms of this key. */
export function fingerprintMatches(ec2Fingerprint: string, local: KeyFingerprints): boolean {
  const want = normaliseFingerprint(ec2Fingerprint);
  return [local.sha1Private, local.md5Public, local.sha256OpenSsh, local.sha1Public, local.sha256Public]
    .filter((f): f is string => Boolean(f))
    .some((f) => normaliseFingerprint(f) === want);
}
