/**
 * Z85 (ZeroMQ RFC 32): the text form of CURVE keys. zeromq.js makes keys as Z85 but does not export
 * a decoder, and the ZAP handler receives the client's key as 32 raw bytes, so it needs one to compare
 * against the allowlist.
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Decodes Z85 text (length a multiple of 5) to bytes; throws on a bad length or character. */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) throw new TypeError(`z85 text must be a multiple of 5 characters, got ${text.length}`);
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const code = text.charCodeAt(i + j);
      const digit = code < 128 ? (DECODE[code] ?? -1) : -1;
      if (digit < 0) throw new TypeError(`invalid z85 character ${JSON.stringify(text[i + j])} at ${i + j}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new TypeError(`z85 group at ${i} is out of range`);
    out[o] = (value >>> 24) & 0xff;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

/** Encodes bytes (length a multiple of 4) as Z85 text. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new TypeError(`z85 input must be a multiple of 4 bytes, got ${bytes.length}`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    const chars = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chars[j] = ALPHABET[value % 85]!;
      value = Math.floor(value / 85);
    }
    out += chars.join('');
  }
  return out;
}

/** True if `text` is a 40-character Z85 CURVE key. */
export function isCurveKey(text: unknown): text is string {
  if (typeof text !== 'string' || text.length !== 40) return false;
  try {
    z85Decode(text);
    return true;
  } catch {
    return false;
  }
}
