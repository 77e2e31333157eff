import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type {
  CreateKeyPairCommandInput,
  DeleteKeyPairCommandInput,
  DescribeKeyPairsCommandInput,
  ImportKeyPairCommandInput,
} from '@aws-sdk/client-ec2';
import { dryRunOperation, ec2Error } from './errors.js';
import { matches, tagList } from './filters.js';
import { route, tagsFor, type Routes } from './routes.js';
import type { Store } from './store.js';

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** The fields of an OpenSSH public key blob (strings and mpints are both length-prefixed). */
function sshFields(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 4 <= blob.length;) {
    const n = blob.readUInt32BE(at);
    out.push(blob.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

const b64url = (b: Buffer): string => (b[0] === 0 ? b.subarray(1) : b).toString('base64url');

/**
 * EC2's fingerprint of an imported public key (OpenSSH format): MD5 of the DER public key, in
 * colon hex, for RSA; SHA-256 of the key blob, in base64 without padding, for ED25519.
 */
export function importedFingerprint(openssh: string): { fingerprint: string; type: string } {
  const [kind, data] = openssh.trim().split(/\s+/);
  const blob = Buffer.from(data ?? '', 'base64');
  if (kind === 'ssh-ed25519')
    return { type: 'ed25519', fingerprint: createHash('sha256').update(blob).digest('base64').replace(/=+$/, '') };
  if (kind !== 'ssh-rsa') throw ec2Error('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  const [, e, n] = sshFields(blob);
  if (!e || !n) throw ec2Error('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  const der = createPublicKey({ key: { kty: 'RSA', e: b64url(e), n: b64url(n) }, format: 'jwk' }).export({
    type: 'spki',
    format: 'der',
  });
  const md5 = createHash('md5').update(der).digest('hex');
  return { type: 'rsa', fingerprint: (md5.match(/../g) ?? []).join(':') };
}

/** A new ED25519 pair (fast; the fake makes ED25519 whatever KeyType asks) and EC2's fingerprint of it. */
function newPair(): { material: string; fingerprint: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(spki.subarray(spki.length - 32))]);
  return {
    material: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    fingerprint: createHash('sha256').update(blob).digest('base64').replace(/=+$/, ''),
  };
}

function addPair(store: Store, name: string, fingerprint: string, type: string, tags: Record<string, string>) {
  if (!name || name.length > 255) throw ec2Error('InvalidParameterValue', `Invalid key name '${name}'`);
  if (store.keyPairs.has(name)) throw ec2Error('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
  const id = store.newId('key');
  store.keyPairs.set(name, { id, name, fingerprint, type, state: 'available', tags, created: store.tick() });
  return id;
}

export function keyRoutes(store: Store): Routes {
  return {
    CreateKeyPair: route<CreateKeyPairCommandInput>((input) => {
      const tags = tagsFor(input.TagSpecifications, 'key-pair', ['key-pair']);
      if (input.DryRun) throw dryRunOperation('CreateKeyPair');
      const pair = newPair();
      const id = addPair(store, input.KeyName ?? '', pair.fingerprint, 'ed25519', tags);
      return {
        KeyName: input.KeyName,
        KeyFingerprint: pair.fingerprint,
        KeyMaterial: pair.material,
        KeyPairId: id,
        Tags: tagList(tags),
      };
    }),
    ImportKeyPair: route<ImportKeyPairCommandInput>((input) => {
      const tags = tagsFor(input.TagSpecifications, 'key-pair', ['key-pair']);
      const { fingerprint, type } = importedFingerprint(Buffer.from(input.PublicKeyMaterial ?? []).toString('utf8'));
      const id = addPair(store, input.KeyName ?? '', fingerprint, type, tags);
      return { KeyName: input.KeyName, KeyFingerprint: fingerprint, KeyPairId: id, Tags: tagList(tags) };
    }),
    DescribeKeyPairs: route<DescribeKeyPairsCommandInput>((input) => {
      const missing = input.KeyNames?.find((n) => !store.keyPairs.has(n));
      if (missing) throw ec2Error('InvalidKeyPair.NotFound', `The key pair '${missing}' does not exist`);
      return {
        KeyPairs: [...store.keyPairs.values()]
          .filter((k) => !input.KeyNames?.length || input.KeyNames.includes(k.name))
          .filter((k) =>
            matches(
              input.Filters,
              { 'key-name': [k.name], fingerprint: [k.fingerprint], 'key-pair-id': [k.id] },
              k.tags,
            ),
          )
          .map((k) => ({
            KeyName: k.name,
            KeyFingerprint: k.fingerprint,
            KeyPairId: k.id,
            KeyType: k.type as 'rsa',
            Tags: tagList(k.tags),
          })),
      };
    }),
    // EC2 answers success for a pair that does not exist.
    DeleteKeyPair: route<DeleteKeyPairCommandInput>((input) => {
      store.keyPairs.delete(input.KeyName ?? '');
      return { Return: true };
    }),
  };
}
