import { JobError } from '../../errors.js';
import type { LaneInfo } from './messages.js';

/**
 * What every direction of the wire shares: reading a JSON header frame, checking its fields, and the
 * records of the batched items (tasks, submissions, results: binary, wire-items.ts) that own
 * consecutive payload frames. Decoders check every field they hand on and throw WireError naming the
 * sender and the field; the rest of the runtime only ever sees the typed, full-named records of wire.ts.
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
    const text = Buffer.isBuffer(frame)
      ? frame.toString()
      : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString();
    value = JSON.parse(text);
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

/**
 * A field that is not what it must be. Item decoders pass an empty `what`: decodeItems adds the
 * item's place when it catches the error, so the hot path builds no description per item.
 */
function bad(what: string, key: string, expected: string): never {
  throw new WireError(what ? `${what}: field "${key}" must be ${expected}` : `field "${key}" must be ${expected}`);
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
  ) {
    this.at = first;
  }

  take(count: number): F[] {
    if (count === 0) return [];
    if (!Number.isSafeInteger(count) || count < 0 || this.at + count > this.frames.length) {
      throw new WireError(`it claims ${count} more frame(s) at ${this.at}, but has ${this.frames.length}`);
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
