/**
 * The typed wire of pipeline mode (pipeline/): the distributor PUSHes tasks, workers PUSH results to
 * the collector, and the control PUB says BEAT or STOP (bare topics, no header). See wire.ts.
 */
import type { Frames } from './sockets.js';
import { int, num, optTimeLimit, readHeader, unknownTag, unreachable, WireError } from './wire-common.js';

/** The control socket's topics. */
export const PIPELINE_STOP = 'STOP';
export const PIPELINE_BEAT = 'BEAT';

/** control PUB → worker: the distributor is still there, or the run is over. */
export type PipelineControl = 'beat' | 'stop';

export function decodePipelineControl(frames: readonly Buffer[]): PipelineControl {
  const topic = frames[0]?.toString() ?? '';
  if (topic === PIPELINE_STOP) return 'stop';
  if (topic === PIPELINE_BEAT) return 'beat';
  return unknownTag(topic, 'the pipeline control socket');
}

/** distributor → worker: task `index`, its frames as taskFrames makes them. */
export interface PipelineTask {
  index: number;
  timeLimitMs?: number;
  frames: Buffer[];
}

const FROM_DISTRIBUTOR = 'the pipeline distributor';

export function decodePipelineTask(frames: readonly Buffer[]): PipelineTask {
  const raw = readHeader(frames[0], FROM_DISTRIBUTOR);
  if (raw.t !== 'task') return unknownTag(raw.t, FROM_DISTRIBUTOR);
  const what = `task from ${FROM_DISTRIBUTOR}`;
  const task: PipelineTask = { index: int(raw, 'i', what), frames: frames.slice(1) };
  const tl = optTimeLimit(raw, 'tl', what);
  if (tl !== undefined) task.timeLimitMs = tl;
  return task;
}

export function encodePipelineTask(task: { index: number; timeLimitMs?: number | undefined; frames: Frames }): Frames {
  const tl = task.timeLimitMs;
  const head =
    tl !== undefined && tl > 0 && Number.isFinite(tl) ? { t: 'task', i: task.index, tl } : { t: 'task', i: task.index };
  return [JSON.stringify(head), ...task.frames];
}

/** worker → collector. */
export type PipelineReply<F = Buffer> =
  /** The worker's PULL is connected (the start barrier counts these). */
  | { kind: 'ready'; worker: number }
  /** Task `index`'s outcome: `body` and `frames` as the value codec made them. */
  | {
      kind: 'result';
      index: number;
      ok: boolean;
      started: number;
      completed: number;
      worker: number;
      body: F;
      frames: F[];
    };

const FROM_WORKER = 'a pipeline worker';

export function decodePipelineReply(frames: readonly Buffer[]): PipelineReply {
  const raw = readHeader(frames[0], FROM_WORKER);
  const what = `${raw.t} from ${FROM_WORKER}`;
  switch (raw.t) {
    case 'ready':
      return { kind: 'ready', worker: int(raw, 'w', what) };
    case 'res': {
      const body = frames[1];
      if (!body) throw new WireError(`${what}: the result's body frame is missing`);
      if (typeof raw.ok !== 'boolean') throw new WireError(`${what}: field "ok" must be a boolean`);
      return {
        kind: 'result',
        index: int(raw, 'i', what),
        ok: raw.ok,
        started: num(raw, 's', what),
        completed: num(raw, 'c', what),
        worker: int(raw, 'w', what),
        body,
        frames: frames.slice(2),
      };
    }
    default:
      return unknownTag(raw.t, FROM_WORKER);
  }
}

export function encodePipelineReply(reply: PipelineReply<Uint8Array | string>): Frames {
  switch (reply.kind) {
    case 'ready':
      return [JSON.stringify({ t: 'ready', w: reply.worker })];
    case 'result': {
      const { index: i, ok, started: s, completed: c, worker: w } = reply;
      return [JSON.stringify({ t: 'res', i, ok, s, c, w }), reply.body, ...reply.frames];
    }
    default:
      return unreachable(reply);
  }
}
