/**
 * The value codec for task arguments and results: JSON-able data plus the values JSON loses.
 *
 * A value becomes one JSON text (the "body") and a list of binary frames. Typed arrays, DataViews
 * and ArrayBuffers are replaced in the JSON by a placeholder that names a frame; the frame carries
 * the raw bytes (never JSON numbers), so a Float64Array of a million samples costs 8 MB on the wire
 * and one memcpy at most. BigInt, undefined, NaN/±Infinity/-0, Date, Map, Set and Error get
 * placeholders too. Placeholders are objects with the key `$sc`; a user object that itself has a
 * `$sc` key is escaped, so every JSON-able value round-trips exactly.
 *
 * Typed arrays are recognised by their tag (`Object.prototype.toString`), not `instanceof`, so
 * arrays made in another realm (the engine's vm context) encode too. Decoded typed arrays are views
 * on the received frame when it is aligned and either not shared with other data or large (at least
 * VIEW_MIN bytes: a view then saves a copy of megabytes, at the price of `.buffer` holding the rest
 * of the message); otherwise a copy.
 *
 * Binary data larger than FRAME_CHUNK travels as several consecutive frames of at most FRAME_CHUNK
 * bytes (`c` in the placeholder counts them), views on the sender's memory: no single socket frame
 * holds a socket's I/O thread (CURVE encrypts frame by frame) long enough to starve heartbeats
 * behind it. The receiver joins them: as one view when they are consecutive in one buffer (the bulk
 * lane receives them so), else with one copy.
 */

/** The largest binary frame the codec makes. */
export const FRAME_CHUNK = 4 << 20;
/** Frames at least this large decode as views even when they share their buffer. */
const VIEW_MIN = 1 << 20;

const TAG = '$sc';

type TypedArrayName =
  | 'Int8Array'
  | 'Uint8Array'
  | 'Uint8ClampedArray'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

type TypedArrayCtor = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView;
  readonly BYTES_PER_ELEMENT: number;
};

/** The typed array constructors, by name (the executor's sandbox gets them as globals too). */
export const TYPED: Record<TypedArrayName, TypedArrayCtor> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/** A value after encoding: the JSON body and the binary frames its placeholders point at. */
export interface Encoded {
  body: string;
  buffers: Uint8Array[];
}

const toStringTag = (value: object): string => Object.prototype.toString.call(value).slice(8, -1);

function bytesOf(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (view instanceof ArrayBuffer || toStringTag(view) === 'ArrayBuffer') {
    return new Uint8Array(view as ArrayBuffer);
  }
  const v = view as ArrayBufferView;
  return new Uint8Array(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
}

/** A primitive that JSON keeps exactly: null, a boolean, a string, a finite number other than -0. */
const isJsonExact = (v: unknown): boolean =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v) && (v !== 0 || 1 / v > 0));

/** Every item JSON-exact (a hole reads as undefined, which is not: holes take the walk). */
function allJsonExact(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (!isJsonExact(items[i])) return false;
  return true;
}

/** Encodes any supported value. Throws a TypeError naming the path of an unsupported value. */
export function encodeValue(value: unknown): Encoded {
  const buffers: Uint8Array[] = [];
  // Fast paths: a primitive that JSON keeps exactly, or an array of such primitives (task arguments
  // mostly are): neither needs the walk.
  if (isJsonExact(value)) return { body: JSON.stringify(value), buffers };
  if (Array.isArray(value) && allJsonExact(value)) return { body: JSON.stringify(value), buffers };
  const out = walk(value, buffers, '$', new Set());
  return { body: JSON.stringify(out), buffers };
}

/** Adds binary data as frames of at most FRAME_CHUNK bytes (views, no copy): `{b: first frame, c?: count}`. */
function pushChunks(buffers: Uint8Array[], bytes: Uint8Array): { b: number; c?: number } {
  const b = buffers.length;
  if (bytes.byteLength <= FRAME_CHUNK) {
    buffers.push(bytes);
    return { b };
  }
  for (let off = 0; off < bytes.byteLength; off += FRAME_CHUNK) {
    buffers.push(bytes.subarray(off, Math.min(bytes.byteLength, off + FRAME_CHUNK)));
  }
  return { b, c: buffers.length - b };
}

function special(kind: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { [TAG]: kind, ...extra };
}

function walk(value: unknown, buffers: Uint8Array[], path: string, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? special('n', { v: '-0' }) : value;
      return special('n', { v: String(value) });
    case 'bigint':
      return special('bi', { v: value.toString() });
    case 'undefined':
      return special('u', {});
    case 'function':
    case 'symbol':
      throw new TypeError(`cannot send a ${typeof value} at ${path}: send data, or ship code with loadModule`);
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ArrayBuffer.isView(obj)) {
    const tag = toStringTag(obj);
    if (tag !== 'DataView' && !Object.hasOwn(TYPED, tag)) throw new TypeError(`cannot send a ${tag} at ${path}`);
    const where = pushChunks(buffers, bytesOf(obj));
    return tag === 'DataView' ? special('dv', where) : special('ta', { t: tag, ...where });
  }
  const tag = toStringTag(obj);
  if (tag === 'ArrayBuffer') return special('ab', pushChunks(buffers, bytesOf(obj as ArrayBuffer)));
  if (seen.has(obj)) throw new TypeError(`cannot send a circular structure at ${path}`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const arr = new Array<unknown>(obj.length);
      for (let i = 0; i < obj.length; i++) arr[i] = walk(obj[i], buffers, `${path}[${i}]`, seen);
      return arr;
    }
    if (tag === 'Date') return special('d', { v: (obj as Date).getTime() });
    if (tag === 'Map') {
      const entries: unknown[] = [];
      let i = 0;
      for (const [k, v] of obj as Map<unknown, unknown>) {
        entries.push([walk(k, buffers, `${path}<key ${i}>`, seen), walk(v, buffers, `${path}<value ${i}>`, seen)]);
        i++;
      }
      return special('m', { v: entries });
    }
    if (tag === 'Set') {
      const items: unknown[] = [];
      let i = 0;
      for (const v of obj as Set<unknown>) items.push(walk(v, buffers, `${path}<item ${i++}>`, seen));
      return special('s', { v: items });
    }
    if (tag === 'Error' || obj instanceof Error) {
      const e = obj as Error & { code?: unknown };
      return special('e', {
        name: e.name,
        message: e.message,
        stack: e.stack,
        ...(typeof e.code === 'string' ? { code: e.code } : {}),
      });
    }
    const maybeJson = (obj as { toJSON?: unknown }).toJSON;
    if (typeof maybeJson === 'function') return walk((maybeJson as () => unknown).call(obj), buffers, path, seen);
    const rec: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
      const v = (obj as Record<string, unknown>)[key];
      if (typeof v === 'function' || typeof v === 'symbol') continue; // as JSON.stringify does
      rec[key] = walk(v, buffers, `${path}.${key}`, seen);
    }
    if (Object.prototype.hasOwnProperty.call(rec, TAG)) {
      const { [TAG]: escaped, ...rest } = rec;
      return special('o', { k: escaped, v: rest });
    }
    return rec;
  } finally {
    seen.delete(obj);
  }
}

/** Decodes a body and its frames (frames may be Buffers straight from the socket). */
export function decodeValue(body: string | Uint8Array, buffers: readonly Uint8Array[] = []): unknown {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString();
  const parsed: unknown = JSON.parse(text);
  // Nothing special can be inside if the text never mentions the tag.
  if (!text.includes(TAG)) return parsed;
  return revive(parsed, buffers);
}

/** The bytes a placeholder names: frame `b`, or `c` consecutive frames from `b` joined. */
function frame(buffers: readonly Uint8Array[], index: unknown, count: unknown = 1): Uint8Array {
  const c = count === undefined ? 1 : count;
  if (typeof index !== 'number' || typeof c !== 'number' || !Number.isSafeInteger(c) || c < 1) {
    throw new TypeError(`message refers to binary frame ${String(index)} which is missing`);
  }
  const parts = buffers.slice(index, index + c);
  if (parts.length !== c || parts.some((p) => !p)) {
    throw new TypeError(`message refers to binary frames ${index}..${index + c - 1} which are missing`);
  }
  if (c === 1) return parts[0]!;
  const first = parts[0]!;
  let total = 0;
  let consecutive = true;
  for (const p of parts) {
    if (p.buffer !== first.buffer || p.byteOffset !== first.byteOffset + total) consecutive = false;
    total += p.byteLength;
  }
  if (consecutive) return new Uint8Array(first.buffer, first.byteOffset, total);
  const joined = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.byteLength;
  }
  return joined;
}

/**
 * An ArrayBuffer holding these bytes at an offset aligned for `align`: the frame's own buffer when
 * the frame is all of it, or is large and aligned; else a copy.
 */
function ownBuffer(b: Uint8Array, align = 1): { buffer: ArrayBuffer; offset: number } {
  if (b.buffer instanceof ArrayBuffer && b.byteOffset % align === 0) {
    const whole = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
    if (whole || b.byteLength >= VIEW_MIN) return { buffer: b.buffer, offset: b.byteOffset };
  }
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return { buffer: copy.buffer, offset: 0 };
}

function revive(value: unknown, buffers: readonly Uint8Array[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i], buffers);
    return value;
  }
  const rec = value as Record<string, unknown>;
  const kind = rec[TAG];
  if (kind === undefined) {
    for (const key of Object.keys(rec)) rec[key] = revive(rec[key], buffers);
    return rec;
  }
  switch (kind) {
    case 'ta': {
      const ctor = Object.hasOwn(TYPED, String(rec.t)) ? TYPED[rec.t as TypedArrayName] : undefined;
      if (!ctor) throw new TypeError(`unknown typed array ${String(rec.t)}`);
      const b = frame(buffers, rec.b, rec.c);
      if (b.byteLength % ctor.BYTES_PER_ELEMENT !== 0) {
        throw new TypeError(`${String(rec.t)} frame of ${b.byteLength} bytes is not a whole number of elements`);
      }
      const { buffer, offset } = ownBuffer(b, ctor.BYTES_PER_ELEMENT);
      return new ctor(buffer, offset, b.byteLength / ctor.BYTES_PER_ELEMENT);
    }
    case 'ab': {
      const b = frame(buffers, rec.b, rec.c);
      if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer)
        return b.buffer;
      const copy = new Uint8Array(b.byteLength);
      copy.set(b);
      return copy.buffer;
    }
    case 'dv': {
      const b = frame(buffers, rec.b, rec.c);
      const { buffer, offset } = ownBuffer(b);
      return new DataView(buffer, offset, b.byteLength);
    }
    case 'bi':
      return BigInt(rec.v as string);
    case 'u':
      return undefined;
    case 'n':
      return rec.v === '-0' ? -0 : Number(rec.v);
    case 'd':
      return new Date(rec.v as number);
    case 'm':
      return new Map(
        (rec.v as [unknown, unknown][]).map(([k, v]) => [revive(k, buffers), revive(v, buffers)] as const),
      );
    case 's':
      return new Set((rec.v as unknown[]).map((v) => revive(v, buffers)));
    case 'e': {
      const err = new Error(String(rec.message));
      err.name = String(rec.name);
      if (typeof rec.stack === 'string') err.stack = rec.stack;
      if (typeof rec.code === 'string') (err as Error & { code?: string }).code = rec.code;
      return err;
    }
    case 'o': {
      const inner = revive(rec.v, buffers) as Record<string, unknown>;
      return { [TAG]: revive(rec.k, buffers), ...inner };
    }
    default:
      throw new TypeError(`unknown value placeholder ${String(kind)}`);
  }
}
