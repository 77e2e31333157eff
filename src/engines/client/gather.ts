import { JobError } from '../../errors.js';
import { nowMs, TaskKind } from '../protocol/messages.js';
import { AsyncResult, type PartOutcome, type TaskMetadata } from './async-result.js';
import type { Submission, Submitter } from './framing.js';
import { taskFrames } from './framing.js';

/**
 * DirectView.gather: each target's value of a name, concatenated (typed arrays stay typed).
 *
 * A gather of large typed arrays receives each engine's part straight into the final array: a first
 * small task on every target (`probe`) answers with the value itself, or, for a typed array of at
 * least PLACE_MIN bytes, with only its type and size. Once every target has answered, the client
 * allocates the final array, copies in the parts it already holds, and pulls the large parts with
 * `Submission.into`, their place in it: their bytes are deciphered from the bulk lane into that memory
 * (BulkChannel's Placement), and the parts come back as consecutive views on one buffer, which
 * `concat` returns as one array without copying. Without it the parts landed in memory of their own
 * and were copied once more into a fresh array: on this VM a fresh gigabyte costs 7× a warm one.
 * Anything else (other values, mixed types, lanes off, a part that changed size in between) takes
 * the plain way: a pull of each part and a copy.
 */

/** Parts of at least this many bytes are received in place (smaller ones come back with the probe). */
export const PLACE_MIN = 1 << 20;

/**
 * Runs on each engine (shipped as source, so self-contained): the value of `name`, or for a large typed
 * array its tag and byte length; null when the name has no value (the plain pull then says why).
 */
const probe = (name: string, min: number): unknown => {
  const value = (globalThis as unknown as Record<string, unknown>)[name];
  if (value === undefined) return null;
  const tag = Object.prototype.toString.call(value);
  if (ArrayBuffer.isView(value) && tag !== '[object DataView]' && value.byteLength >= min) {
    return { t: tag, n: value.byteLength };
  }
  return { v: value };
};

type Probed = { value: unknown } | { tag: string; bytes: number } | undefined;

function probed(outcome: PartOutcome): Probed {
  if (!outcome.ok || typeof outcome.value !== 'object' || outcome.value === null) return undefined;
  const r = outcome.value as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length === 1 && keys[0] === 'v') return { value: r.v };
  if (typeof r.t === 'string' && Number.isSafeInteger(r.n) && (r.n as number) >= 0) {
    return { tag: r.t, bytes: r.n as number };
  }
  return undefined;
}

const tagOf = (v: unknown): string => Object.prototype.toString.call(v);
const isTyped = (v: unknown): v is ArrayBufferView => ArrayBuffer.isView(v) && tagOf(v) !== '[object DataView]';

/** The final array's memory and each large part's place in it, if every part is a typed array of one type. */
function destination(parts: Probed[]): Uint8Array[] | undefined {
  const tags = new Set(parts.map((p) => (p && 'tag' in p ? p.tag : p && isTyped(p.value) ? tagOf(p.value) : '')));
  if (tags.size !== 1 || tags.has('') || !parts.some((p) => p && 'tag' in p)) return undefined;
  const sizes = parts.map((p) => (p && 'tag' in p ? p.bytes : (p!.value as ArrayBufferView).byteLength));
  let memory: ArrayBuffer;
  try {
    memory = new ArrayBuffer(sizes.reduce((s, n) => s + n, 0));
  } catch {
    return undefined; // sizes no array can have: take the plain way, whose pull reports what is wrong
  }
  let at = 0;
  return sizes.map((n) => {
    const view = new Uint8Array(memory, at, n);
    at += n;
    return view;
  });
}

export function gather(
  client: Submitter,
  targets: number[],
  name: string,
  sub: Omit<Submission, 'to'>,
): AsyncResult<unknown> {
  const ar = new AsyncResult<unknown>(targets.length, nowMs(), concat);
  let aborted = false;
  ar.attachAbort((ids, options) => {
    aborted = true;
    client.abort(ids, options);
  });
  const outcomes: { outcome: PartOutcome; meta: Partial<TaskMetadata> }[] = [];
  let left = targets.length;
  const pullParts = (): void => {
    const parts = targets.map((_, i) => (outcomes[i] ? probed(outcomes[i].outcome) : undefined));
    const places = destination(parts);
    const pull = taskFrames(TaskKind.pull, undefined, [[name]]);
    targets.forEach((engine, index) => {
      const { outcome, meta } = outcomes[index] ?? { outcome: { ok: true, value: null }, meta: {} };
      const part = parts[index];
      if (part && 'value' in part) {
        if (!places) return ar.complete(index, { ok: true, value: part.value }, meta);
        const v = part.value as ArrayBufferView; // typed: see destination
        places[index]!.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        return ar.complete(index, { ok: true, value: typedView(v, places[index]!) }, meta);
      }
      if (aborted) {
        const error = new JobError('TaskAborted', 'gather aborted before its part was pulled');
        return ar.complete(index, outcome.ok ? { ok: false, error } : outcome, meta);
      }
      const into = places?.[index];
      const partSub: Submission = { ...sub, to: [engine], bulk: true, ...(into ? { into } : {}) };
      ar.metadata[index]!.taskId = client.submit(partSub, pull, (o, m) =>
        ar.complete(index, o.ok ? { ok: true, value: (o.value as unknown[])[0] } : o, m),
      );
    });
  };
  if (targets.length === 1) {
    pullParts(); // one part is the whole: nothing to place, no probe
    return ar;
  }
  const probeFrames = taskFrames(TaskKind.apply, probe as (...a: never[]) => unknown, [name, PLACE_MIN]);
  targets.forEach((engine, index) => {
    ar.metadata[index]!.taskId = client.submit({ ...sub, to: [engine], bulk: true }, probeFrames, (outcome, meta) => {
      outcomes[index] = { outcome, meta };
      if (--left === 0) pullParts();
    });
  });
  return ar;
}

/** `place` as an array of `like`'s type (its memory, no copy). */
function typedView(like: unknown, place: Uint8Array): unknown {
  const Ctor = (like as { constructor: new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView }).constructor;
  const per = (like as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  return new Ctor(place.buffer, place.byteOffset, place.byteLength / per);
}

/**
 * Typed parts of one type → one array of that type (consecutive views on one buffer: that array,
 * without a copy; else a copy); one engine's part as is; arrays → flattened; anything else → the list.
 */
export function concat(parts: unknown[]): unknown {
  if (parts.length > 0 && parts.every(isTyped)) {
    const tag = tagOf(parts[0]);
    if (parts.every((p) => tagOf(p) === tag)) {
      if (parts.length === 1) return parts[0]; // one engine's part is the whole: no copy
      const views = parts as unknown as (ArrayBufferView & {
        length: number;
        constructor: new (...a: unknown[]) => unknown;
      })[];
      const first = views[0]!;
      const total = views.reduce((s, p) => s + p.length, 0);
      let end = first.byteOffset;
      const consecutive = views.every((p) => {
        const ok = p.buffer === first.buffer && p.byteOffset === end;
        end += p.byteLength;
        return ok;
      });
      if (consecutive) return new first.constructor(first.buffer, first.byteOffset, total);
      const out = new first.constructor(total) as { set(a: ArrayLike<number>, offset: number): void };
      let offset = 0;
      for (const p of views) {
        out.set(p as unknown as ArrayLike<number>, offset);
        offset += p.length;
      }
      return out;
    }
  }
  if (parts.every((p) => Array.isArray(p))) return (parts as unknown[][]).flat();
  return parts;
}
