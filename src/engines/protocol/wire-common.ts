import { JobError } from '../../errors.js';
import type { LaneInfo } from './messages.js';
import type { Frames } from './sockets.js';

/**
 * What every direction of the wire shares: reading a header frame, checking its fields, and the three
 * batched items (tasks, submissions, results) that own consecutive payload frames. Decoders check
 * every field they hand on and throw WireError naming the sender and the field; the rest of the
 * runtime only ever sees the typed, full-named records of wire.ts.
 */

/** A message that is not what the protocol says (bad JSON, an unknown tag, a missing or mistyped field). */
export class WireError extends JobError {
  constructor(message: string) {
    super('BadMessage', message);
  }
}

/** The header's fields, as parsed. */
export type Raw = Record<string, unknown>;

/** The header frame as an object with a string tag `t`, or WireError. */
export function readHeader(frame: Uint8Array | undefined, from: string): Raw & { t: string } {
  if (!frame || frame.length === 0) throw new WireError(`empty message from ${from}`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString());
  } catch (error) {
    throw new WireError(`message from ${from} is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireError(`message from ${from} is not a JSON object`);
  }
  const t = (value as Raw).t;
  if (typeof t !== 'string') throw new WireError(`message from ${from} has no string tag "t"`);
  return value as Raw & { t: string };
}

export function unknownTag(tag: string, from: string): never {
  throw new WireError(`unknown message ${JSON.stringify(tag.slice(0, 40))} from ${from}`);
}

/** The compiler checks that a switch covered every case; at run time this is a bug. */
export function unreachable(value: never): never {
  throw new Error(`unhandled case ${JSON.stringify(value)}`);
}

function bad(what: string, key: string, expected: string): never {
  throw new WireError(`${what}: field "${key}" must be ${expected}`);
}

export function int(raw: Raw, key: string, what: string): number {
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(what, key, 'an integer');
  return v;
}

export function optInt(raw: Raw, key: string, what: string): number | undefined {
  return raw[key] === undefined ? undefined : int(raw, key, what);
}

export function num(raw: Raw, key: string, what: string): number {
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(what, key, 'a finite number');
  return v;
}

export function str(raw: Raw, key: string, what: string): string {
  const v = raw[key];
  if (typeof v !== 'string') bad(what, key, 'a string');
  return v;
}

export function optStr(raw: Raw, key: string, what: string): string | undefined {
  return raw[key] === undefined ? undefined : str(raw, key, what);
}

/** A `1`-or-absent flag. */
export function flag(raw: Raw, key: string, what: string): boolean {
  const v = raw[key];
  if (v === undefined) return false;
  if (v !== 1) bad(what, key, '1 or absent');
  return true;
}

export function intList(raw: Raw, key: string, what: string): number[] {
  const v = raw[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    bad(what, key, 'a list of integers');
  }
  return v as number[];
}

export function strList(raw: Raw, key: string, what: string): string[] {
  const v = raw[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(what, key, 'a list of strings');
  return v as string[];
}

export function record(value: unknown, what: string): Raw {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireError(`${what} is not an object`);
  }
  return value as Raw;
}

export function list(raw: Raw, key: string, what: string): unknown[] {
  const v = raw[key];
  if (!Array.isArray(v)) bad(what, key, 'a list');
  return v;
}

/** A time limit in ms: a positive finite number, or absent. */
export function optTimeLimit(raw: Raw, key: string, what: string): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) bad(what, key, 'a positive number of ms');
  return v;
}

/** Reads item payload frames in order, checking that the header's counts match what arrived. */
export class FrameReader<F> {
  private at: number;
  constructor(
    private readonly frames: readonly F[],
    first: number,
    private readonly from: string,
  ) {
    this.at = first;
  }

  take(count: number): F[] {
    if (!Number.isSafeInteger(count) || count < 0 || this.at + count > this.frames.length) {
      throw new WireError(
        `message from ${this.from} claims ${count} more frame(s) at ${this.at}, but has ${this.frames.length}`,
      );
    }
    const taken = this.frames.slice(this.at, this.at + count);
    this.at += count;
    return taken;
  }
}

/** A task as it travels to an engine (controller → engine, or a client's lane). */
export interface TaskItem<F = Buffer> {
  id: number;
  /** The body inline (small bodies travel in the header); else it is `frames[0]`. */
  body?: string;
  frames: F[];
  /** Time limit (ms): the engine stops the task's synchronous run, or abandons its promise, past it. */
  timeLimitMs?: number;
}

/** A task result (engine → controller → client, or an engine's lane → client). */
export interface ResultItem<F = Buffer> {
  /** The task id: the controller's towards the controller, the client's own towards a client. */
  id: number;
  ok: boolean;
  /** Started / completed, epoch ms (engine clock). */
  started: number;
  completed: number;
  /** The engine that ran it (towards a client only). */
  engine?: number;
  /** The body inline; else it is `frames[0]`. */
  body?: string;
  /** What the task printed to stdout / stderr (console), if anything. */
  stdout?: string;
  stderr?: string;
  frames: F[];
}

export function decodeTaskItem(value: unknown, frames: FrameReader<Buffer>, what: string): TaskItem {
  const raw = record(value, what);
  const item: TaskItem = { id: int(raw, 'i', what), frames: frames.take(int(raw, 'n', what)) };
  const body = optStr(raw, 'b', what);
  if (body !== undefined) item.body = body;
  const tl = optTimeLimit(raw, 'tl', what);
  if (tl !== undefined) item.timeLimitMs = tl;
  return item;
}

export function taskHead(item: TaskItem<Uint8Array | string>): Raw {
  const head: Raw = { i: item.id, n: item.frames.length };
  if (item.body !== undefined) head.b = item.body;
  if (item.timeLimitMs !== undefined && item.timeLimitMs > 0 && Number.isFinite(item.timeLimitMs)) {
    head.tl = item.timeLimitMs;
  }
  return head;
}

export function decodeResultItem(value: unknown, frames: FrameReader<Buffer>, what: string): ResultItem {
  const raw = record(value, what);
  const ok = raw.ok;
  if (typeof ok !== 'boolean') bad(what, 'ok', 'a boolean');
  const item: ResultItem = {
    id: int(raw, 'i', what),
    ok,
    started: num(raw, 's', what),
    completed: num(raw, 'c', what),
    frames: frames.take(int(raw, 'n', what)),
  };
  const engine = optInt(raw, 'e', what);
  if (engine !== undefined) item.engine = engine;
  const body = optStr(raw, 'b', what);
  if (body !== undefined) item.body = body;
  const stdout = optStr(raw, 'o', what);
  if (stdout !== undefined) item.stdout = stdout;
  const stderr = optStr(raw, 'x', what);
  if (stderr !== undefined) item.stderr = stderr;
  return item;
}

export function resultHead(item: ResultItem<Uint8Array | string>): Raw {
  const head: Raw = { i: item.id, n: item.frames.length, ok: item.ok, s: item.started, c: item.completed };
  if (item.engine !== undefined) head.e = item.engine;
  if (item.body !== undefined) head.b = item.body;
  if (item.stdout !== undefined) head.o = item.stdout;
  if (item.stderr !== undefined) head.x = item.stderr;
  return head;
}

/** `[header, ...every item's frames]`. */
export function withItems<I extends { frames: (Uint8Array | string)[] }>(
  header: Raw,
  key: string,
  items: readonly I[],
  head: (item: I) => Raw,
): Frames {
  header[key] = items.map(head);
  const out: Frames = [JSON.stringify(header)];
  for (const item of items) for (const f of item.frames) out.push(f);
  return out;
}

/** Decodes a batch of items under `key`, each taking its frames after the header. */
export function decodeItems<I>(
  raw: Raw,
  key: string,
  frames: readonly Buffer[],
  from: string,
  what: string,
  decodeItem: (value: unknown, reader: FrameReader<Buffer>, what: string) => I,
): I[] {
  const reader = new FrameReader(frames, 1, from);
  return list(raw, key, `${what} from ${from}`).map((value, index) =>
    decodeItem(value, reader, `${what} item ${index} from ${from}`),
  );
}

/** A lane as an engine reports it: a tcp endpoint and a Z85 key. */
export function decodeLane(value: unknown, what: string): LaneInfo | undefined {
  if (value === undefined) return undefined;
  const raw = record(value, `${what}: lane`);
  const endpoint = str(raw, 'endpoint', what);
  const key = str(raw, 'key', what);
  if (!/^tcp:\/\/[^\s]{1,200}:\d{1,5}$/.test(endpoint) || key.length !== 40) {
    throw new WireError(`${what}: lane ${JSON.stringify(endpoint)} is not a tcp endpoint with a Z85 key`);
  }
  return { endpoint, key };
}
