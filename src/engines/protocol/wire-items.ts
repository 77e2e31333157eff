import type { Scheme } from './messages.js';
import { SCHEMES } from './messages.js';
import type { Frames } from './sockets.js';
import type { ResultItem, TaskItem } from './wire-common.js';
import { FrameReader, WireError } from './wire-common.js';

/**
 * The batched item messages (tasks, submissions, results) in binary: they are the data path's
 * messages, one per task each way, so their header frame is a few fixed-width fields instead of
 * JSON — no JSON.parse / stringify, no number ↔ text conversions of ids and times — as ZeroMQ's
 * guides advise for high-rate messages. Other messages stay JSON (wire.ts).
 *
 *   header = tag u8 · count u32 · item*            (little-endian; a tag is never '{', so never JSON)
 *   task   = id f64 · frames u32 · flags u8 · [timeLimit f64] · [retries u32] · [targets u32 · i32*]
 *            · [scheme u8] · [body str]
 *   result = id f64 · frames u32 · flags u8 · started f64 · completed f64 · [engine i32] · [body str]
 *            · [stdout str] · [stderr str]
 *   str    = byteLength u32 · UTF-8
 *
 * An item's payload frames follow the header, item by item, as with JSON. Every field is checked on
 * the way in (WireError names the item and what is wrong), like the JSON decoders.
 */

export const ItemTag = { submit: 1, run: 2, results: 3 } as const;
export type ItemTagCode = (typeof ItemTag)[keyof typeof ItemTag];

/**
 * Is this message a binary item message with tag `expected`? False if its header is not binary (then
 * it is JSON); WireError if it is binary with a tag this direction does not carry.
 */
export function isItems(frames: readonly Buffer[], expected: ItemTagCode, from: string): boolean {
  const t = frames[0]?.[0];
  if (t === undefined || t >= 0x20) return false;
  if (t !== expected) throw new WireError(`unknown binary message ${t} from ${from}`);
  return true;
}

const TL = 1;
const BODY = 2;
const DIRECT = 4;
const RETRIES = 8;
const TARGETS = 16;
const SCHEME = 32;
const TASK_FLAGS = TL | BODY | DIRECT | RETRIES | TARGETS | SCHEME;

const OK = 1;
const ENGINE = 2;
const RBODY = 4;
const STDOUT = 8;
const STDERR = 16;
const RESULT_FLAGS = OK | ENGINE | RBODY | STDOUT | STDERR;

/** A task item as the wire carries it (a SubmitItem's extra fields go to the controller only). */
export type TaskFields<F> = TaskItem<F> & { direct?: boolean; retries?: number; targets?: number[]; scheme?: Scheme };

const strBytes = (s: string | undefined): number => (s === undefined ? 0 : 4 + Buffer.byteLength(s));

function putStr(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 4);
  buf.writeUInt32LE(n, at);
  return at + 4 + n;
}

/** The frames of a task batch: `[header, ...every item's frames]`; `submit` adds the controller's fields. */
export function encodeTasks<F extends Uint8Array | string>(
  tag: ItemTagCode,
  items: readonly TaskFields<F>[],
  submit: boolean,
): Frames {
  let size = 5;
  for (const t of items) {
    size += 13 + strBytes(t.body);
    if (validLimit(t.timeLimitMs)) size += 8;
    if (submit) {
      if (t.retries !== undefined && t.retries > 0) size += 4;
      if (t.targets) size += 4 + 4 * t.targets.length;
      if (t.scheme) size += 1;
    }
  }
  const buf = Buffer.allocUnsafe(size);
  buf[0] = tag;
  buf.writeUInt32LE(items.length, 1);
  let at = 5;
  const out: Frames = [buf];
  for (const t of items) {
    const retries = submit && t.retries !== undefined && t.retries > 0;
    const targets = submit ? t.targets : undefined;
    const scheme = submit ? t.scheme : undefined;
    const tl = validLimit(t.timeLimitMs);
    const flags =
      (tl ? TL : 0) |
      (t.body !== undefined ? BODY : 0) |
      (submit && t.direct ? DIRECT : 0) |
      (retries ? RETRIES : 0) |
      (targets ? TARGETS : 0) |
      (scheme ? SCHEME : 0);
    at = buf.writeDoubleLE(t.id, at);
    at = buf.writeUInt32LE(t.frames.length, at);
    buf[at++] = flags;
    if (tl) at = buf.writeDoubleLE(t.timeLimitMs!, at);
    if (retries) at = buf.writeUInt32LE(t.retries!, at);
    if (targets) {
      at = buf.writeUInt32LE(targets.length, at);
      for (const e of targets) at = buf.writeInt32LE(e, at);
    }
    if (scheme) buf[at++] = SCHEMES.indexOf(scheme);
    if (t.body !== undefined) at = putStr(buf, at, t.body);
    for (const f of t.frames) out.push(f);
  }
  return out;
}

/** The frames of a result batch: `[header, ...every item's frames]`. */
export function encodeResults<F extends Uint8Array | string>(items: readonly ResultItem<F>[]): Frames {
  let size = 5;
  for (const r of items) {
    size += 29 + strBytes(r.body) + strBytes(r.stdout) + strBytes(r.stderr);
    if (r.engine !== undefined) size += 4;
  }
  const buf = Buffer.allocUnsafe(size);
  buf[0] = ItemTag.results;
  buf.writeUInt32LE(items.length, 1);
  let at = 5;
  const out: Frames = [buf];
  for (const r of items) {
    const flags =
      (r.ok ? OK : 0) |
      (r.engine !== undefined ? ENGINE : 0) |
      (r.body !== undefined ? RBODY : 0) |
      (r.stdout !== undefined ? STDOUT : 0) |
      (r.stderr !== undefined ? STDERR : 0);
    at = buf.writeDoubleLE(r.id, at);
    at = buf.writeUInt32LE(r.frames.length, at);
    buf[at++] = flags;
    at = buf.writeDoubleLE(r.started, at);
    at = buf.writeDoubleLE(r.completed, at);
    if (r.engine !== undefined) at = buf.writeInt32LE(r.engine, at);
    if (r.body !== undefined) at = putStr(buf, at, r.body);
    if (r.stdout !== undefined) at = putStr(buf, at, r.stdout);
    if (r.stderr !== undefined) at = putStr(buf, at, r.stderr);
    for (const f of r.frames) out.push(f);
  }
  return out;
}

const validLimit = (tl: number | undefined): boolean => tl !== undefined && tl > 0 && Number.isFinite(tl);

/** Reads a binary header, every read bounds-checked. */
class HeaderReader {
  at = 5;
  constructor(readonly buf: Buffer) {}

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new WireError(`it ends inside ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32LE(this.at);
    this.at += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  id(what: string): number {
    const v = this.f64(what);
    if (!Number.isSafeInteger(v)) throw new WireError(`${what} must be an integer`);
    return v;
  }
  time(what: string): number {
    const v = this.f64(what);
    if (!Number.isFinite(v)) throw new WireError(`${what} must be a finite number`);
    return v;
  }
  str(what: string): string {
    const n = this.u32(what);
    this.need(n, what);
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  flags(allowed: number, what: string): number {
    const f = this.u8(what);
    if ((f & ~allowed) !== 0) throw new WireError(`${what} has unknown flags ${f}`);
    return f;
  }
}

/** The items of a binary batch, each decoded by `item`; WireError names the item and what is off. */
function decodeBatch<I>(
  frames: readonly Buffer[],
  from: string,
  what: string,
  item: (h: HeaderReader, frames: FrameReader<Buffer>) => I,
): I[] {
  const buf = frames[0]!;
  if (buf.length < 5) throw new WireError(`${what} batch from ${from} is shorter than its header`);
  const count = buf.readUInt32LE(1);
  // every item takes at least 13 bytes: a count beyond that is a lie, not a reason to allocate
  if (count > (buf.length - 5) / 13) throw new WireError(`${what} batch from ${from} claims ${count} items`);
  const h = new HeaderReader(buf);
  const reader = new FrameReader(frames, 1);
  const items = new Array<I>(count);
  let i = 0;
  try {
    for (; i < count; i++) items[i] = item(h, reader);
    if (h.at !== buf.length) throw new WireError(`${buf.length - h.at} stray byte(s) after the last item`);
  } catch (error) {
    if (error instanceof WireError) throw new WireError(`${what} item ${i} from ${from}: ${error.message}`);
    throw error;
  }
  return items;
}

/** A task batch's items (`submit`: with the controller's fields; else those flags are refused). */
export function decodeTasks(frames: readonly Buffer[], from: string, submit: boolean): TaskFields<Buffer>[] {
  const allowed = submit ? TASK_FLAGS : TL | BODY;
  return decodeBatch(frames, from, 'task', (h, rd) => {
    const id = h.id('id');
    const n = h.u32('frame count');
    const flags = h.flags(allowed, 'task');
    const t: TaskFields<Buffer> = { id, frames: rd.take(n) };
    if (flags & TL) {
      const tl = h.f64('time limit');
      if (!validLimit(tl)) throw new WireError('its time limit must be a positive number of ms');
      t.timeLimitMs = tl;
    }
    if (submit) {
      t.direct = (flags & DIRECT) !== 0;
      t.retries = flags & RETRIES ? h.u32('retries') : 0;
    }
    if (flags & TARGETS) {
      const k = h.u32('target count');
      if (k > 65536) throw new WireError(`it claims ${k} targets`);
      const targets = new Array<number>(k);
      for (let j = 0; j < k; j++) targets[j] = h.i32('target');
      if (k > 0) t.targets = targets;
    }
    if (flags & SCHEME) {
      const s = SCHEMES[h.u8('scheme')];
      if (s === undefined) throw new WireError('unknown scheme');
      t.scheme = s;
    }
    if (flags & BODY) t.body = h.str('body');
    return t;
  });
}

/** A result batch's items. */
export function decodeResults(frames: readonly Buffer[], from: string): ResultItem<Buffer>[] {
  return decodeBatch(frames, from, 'result', (h, rd) => {
    const id = h.id('id');
    const n = h.u32('frame count');
    const flags = h.flags(RESULT_FLAGS, 'result');
    const r: ResultItem<Buffer> = {
      id,
      ok: (flags & OK) !== 0,
      started: h.time('started'),
      completed: h.time('completed'),
      frames: rd.take(n),
    };
    if (flags & ENGINE) r.engine = h.i32('engine');
    if (flags & RBODY) r.body = h.str('body');
    if (flags & STDOUT) r.stdout = h.str('stdout');
    if (flags & STDERR) r.stderr = h.str('stderr');
    return r;
  });
}
