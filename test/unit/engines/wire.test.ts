import { describe, expect, it } from 'vitest';
import type { Frames } from '../../../src/engines/protocol/sockets.js';
import type {
  ClientToController,
  ClientToLane,
  ControllerToClient,
  LaneToClient,
  SubmitItem,
} from '../../../src/engines/protocol/wire.js';
import type { ControllerToEngine, EngineToController } from '../../../src/engines/protocol/wire-engine.js';
import type { PipelineReply } from '../../../src/engines/protocol/wire-pipeline.js';
import {
  decodeClientToController,
  decodeClientToLane,
  decodeControllerToClient,
  decodeLaneToClient,
  encodeClientToController,
  encodeClientToLane,
  encodeControllerToClient,
  encodeLaneToClient,
  WireError,
} from '../../../src/engines/protocol/wire.js';
import {
  decodeControllerToEngine,
  decodeEngineToController,
  encodeControllerToEngine,
  encodeEngineToController,
} from '../../../src/engines/protocol/wire-engine.js';
import {
  decodePipelineReply,
  decodePipelineTask,
  encodePipelineReply,
  encodePipelineTask,
} from '../../../src/engines/protocol/wire-pipeline.js';

/** A one-task submit message with these fields. */
const submit = (task: Partial<SubmitItem<string>>): Frames =>
  encodeClientToController({ kind: 'submit', tasks: [{ id: 1, frames: [], direct: false, retries: 0, ...task }] });
const results = (): EngineToController => ({
  kind: 'results',
  results: [{ id: 1, ok: true, started: 1, completed: 2, frames: [] }],
});
/** `frames` as received, with bytes of the header overwritten from `at` (-1: the last byte). */
function patched(frames: Frames, at: number, ...bytes: number[]): Buffer[] {
  const out = received(frames);
  const header = Buffer.from(out[0]!);
  header.set(bytes, at < 0 ? header.length + at : at);
  out[0] = header;
  return out;
}

/** What a socket would deliver for these frames: Buffers. */
const received = (frames: Frames): Buffer[] => frames.map((f) => Buffer.from(f));
const raw = (...frames: (string | Uint8Array)[]): Buffer[] => received(frames);
const LANE = { endpoint: 'tcp://127.0.0.1:40001', key: 'a'.repeat(40) };

describe('the typed wire', () => {
  it('round-trips every client → controller message, full names on this side of the wire', () => {
    const code = Buffer.from('export const x = 1;');
    const messages: ClientToController[] = [
      { kind: 'hello' },
      { kind: 'ping' },
      {
        kind: 'submit',
        tasks: [
          { id: 1, body: '{"k":"a"}', frames: [], direct: false, retries: 0 },
          {
            id: 2,
            frames: [Buffer.from('{"k":"a","a":[]}'), Buffer.from([1, 2, 3])],
            targets: [3],
            direct: true,
            retries: 2,
            scheme: 'lru',
            timeLimitMs: 500,
          },
        ],
      },
      { kind: 'loadModule', requestId: 4, name: 'job', code },
      { kind: 'abort', taskIds: [1, 2], running: true },
      { kind: 'abort', taskIds: [3], running: false },
      { kind: 'interrupt', engine: 0, taskIds: [5] },
      { kind: 'lease' },
      { kind: 'queueStatus', requestId: 9 },
      { kind: 'bye' },
    ];
    for (const message of messages) {
      expect(decodeClientToController(received(encodeClientToController(message)))).toEqual(message);
    }
  });

  it('sends the item messages (tasks, results) as a binary header: fixed-width fields, no JSON', () => {
    const [header, body] = encodeClientToController({
      kind: 'submit',
      tasks: [
        { id: 7, body: 'b', frames: ['x'], direct: true, retries: 0, targets: [1], timeLimitMs: 10, scheme: 'lru' },
      ],
    }) as [Buffer, string];
    expect(Buffer.isBuffer(header)).toBe(true);
    expect(body).toBe('x'); // payload frames travel untouched
    expect(header[0]).toBe(1); // the submit tag: never '{', so never read as JSON
    expect(header.readUInt32LE(1)).toBe(1); // one item
    expect(header.readDoubleLE(5)).toBe(7); // its id
    expect(header.readUInt32LE(13)).toBe(1); // its payload frames
    // flags: time limit, body, direct, targets, scheme; then 10 ms, 1 target (engine 1), scheme 0, "b"
    expect(header[17]).toBe(1 | 2 | 4 | 16 | 32);
    expect(header.readDoubleLE(18)).toBe(10);
    expect([header.readUInt32LE(26), header.readInt32LE(30), header[34]]).toEqual([1, 1, 0]);
    expect([header.readUInt32LE(35), header.toString('utf8', 39)]).toEqual([1, 'b']);
    const [result] = encodeEngineToController({
      kind: 'results',
      results: [{ id: 3, ok: true, started: 1733380000000.125, completed: 1733380000000.5, body: 'null', frames: [] }],
    }) as [Buffer];
    expect(result[0]).toBe(3); // the results tag
    expect([result.readDoubleLE(5), result[17], result.readDoubleLE(18), result.readDoubleLE(26)]).toEqual([
      3,
      1 | 4,
      1733380000000.125, // times keep every bit (JSON would print and re-parse them)
      1733380000000.5,
    ]);
  });

  it('round-trips controller → client messages', () => {
    const engine = { id: 0, uuid: 'u', node: 'n', pid: 1, registered: 5, lane: LANE };
    const messages: ControllerToClient[] = [
      { kind: 'welcome', engines: [engine], scheme: 'leastload', heartbeatMs: 500, epoch: 'e1' },
      { kind: 'pong', epoch: 'e1' },
      {
        kind: 'results',
        results: [
          { id: 1, ok: true, started: 1.5, completed: 2.5, engine: 0, body: '1', frames: [], stdout: 'hi' },
          { id: 2, ok: false, started: 1, completed: 2, frames: [Buffer.from('{}'), Buffer.from([9])], stderr: 'x' },
        ],
      },
      { kind: 'engines', up: [engine], down: [] },
      { kind: 'engines', up: [], down: [3, 4] },
      { kind: 'lease', engine: -1 },
      {
        kind: 'queueStatus',
        requestId: 2,
        status: { engines: [{ id: 0, node: 'n', queue: 1, completed: 2 }], unassigned: 3 },
      },
      { kind: 'moduleLoaded', requestId: 3, errors: [{ engine: 1, message: 'no' }] },
    ];
    for (const message of messages) {
      expect(decodeControllerToClient(received(encodeControllerToClient(message)))).toEqual(message);
    }
  });

  it('round-trips engine ↔ controller and lane messages', () => {
    const toController: EngineToController[] = [
      { kind: 'register', registration: { uuid: 'u', node: 'n', pid: 3, lane: LANE, previousId: 2 } },
      { kind: 'results', results: [{ id: 1, ok: true, started: 1, completed: 2, frames: [Buffer.from('"x"')] }] },
      { kind: 'beat', uuid: 'u' },
      { kind: 'beat' },
      { kind: 'bye' },
    ];
    for (const m of toController) expect(decodeEngineToController(received(encodeEngineToController(m)))).toEqual(m);
    const toEngine: ControllerToEngine[] = [
      {
        kind: 'welcome',
        welcome: {
          id: 1,
          heartbeatMs: 500,
          lostBeats: 10,
          epoch: 'e',
          laneClients: ['k'.repeat(40)],
          heartbeatEndpoint: 'tcp://127.0.0.1:4',
        },
      },
      { kind: 'run', tasks: [{ id: 5, body: '{}', frames: [Buffer.from([1])], timeLimitMs: 3 }] },
      { kind: 'abort', taskIds: [5], running: true },
      { kind: 'beat' },
      { kind: 'unknown' },
      { kind: 'stop' },
      { kind: 'interrupt', taskIds: [5], lane: true },
    ];
    for (const m of toEngine) expect(decodeControllerToEngine(received(encodeControllerToEngine(m)))).toEqual(m);
    const toLane: ClientToLane[] = [
      { kind: 'hello' },
      { kind: 'submit', tasks: [{ id: 1, frames: [Buffer.from('{}')] }] },
      { kind: 'abort', taskIds: [1], running: false },
      { kind: 'bulk', random: 'r' },
    ];
    for (const m of toLane) expect(decodeClientToLane(received(encodeClientToLane(m)))).toEqual(m);
    const fromLane: LaneToClient[] = [
      { kind: 'welcome', engine: 2 },
      { kind: 'results', results: [{ id: 1, ok: true, started: 1, completed: 2, engine: 2, body: '1', frames: [] }] },
      { kind: 'bulk', offer: { session: 's', random: 'r', endpoint: 'tcp://127.0.0.1:5' } },
    ];
    for (const m of fromLane) expect(decodeLaneToClient(received(encodeLaneToClient(m)))).toEqual(m);
  });

  it('round-trips the pipeline messages', () => {
    const task = { index: 3, timeLimitMs: 100, frames: [Buffer.from('{"k":"a"}')] };
    expect(decodePipelineTask(received(encodePipelineTask(task)))).toEqual(task);
    const ready: PipelineReply = { kind: 'ready', worker: 2 };
    expect(decodePipelineReply(received(encodePipelineReply(ready)))).toEqual(ready);
    const result: PipelineReply = {
      kind: 'result',
      index: 3,
      ok: true,
      started: 1,
      completed: 2,
      worker: 2,
      body: Buffer.from('1'),
      frames: [Buffer.from([7])],
    };
    expect(decodePipelineReply(received(encodePipelineReply(result)))).toEqual(result);
  });

  it('rejects malformed and unknown messages with a clear error', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => decodeClientToController([]), /empty message from a client/],
      [() => decodeClientToController(raw('not json')), /from a client is not JSON/],
      [() => decodeClientToController(raw('[1]')), /not a JSON object/],
      [() => decodeClientToController(raw('{"x":1}')), /no string tag "t"/],
      [() => decodeClientToController(raw('{"t":"launch"}')), /unknown message "launch" from a client/],
      [
        () => decodeClientToController(raw('{"t":"abort","i":["1"]}')),
        /abort from a client: field "i" must be a list of integers/,
      ],
      [() => decodeClientToController(raw('{"t":"mod","i":1,"name":"m"}')), /code frame is missing/],
      [() => decodeClientToController(raw('{"t":"sub","k":[]}')), /unknown message "sub" from a client/],
      [() => decodeClientToController(received(submit({ frames: ['a', 'b'] })).slice(0, 2)), /claims 2 more frame/],
      [() => decodeClientToController(patched(submit({ scheme: 'lru' }), -1, 9)), /task item 0 .*unknown scheme/],
      [() => decodeClientToController(patched(submit({ timeLimitMs: 5 }), 25, 0xc0)), /positive number of ms/],
      [() => decodeClientToController(patched(submit({}), 17, 0x80)), /unknown flags/],
      [() => decodeClientToController(patched(submit({}), 1, 0xff, 0xff)), /claims 65535 items/],
      [() => decodeClientToController([Buffer.concat([received(submit({}))[0]!, Buffer.from([0])])]), /1 stray byte/],
      [() => decodeClientToController([received(submit({ body: 'abc' }))[0]!.subarray(0, 20)]), /ends inside body/],
      [() => decodeClientToController(patched(submit({}), 5, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f)), /id must be an integer/],
      [() => decodeClientToController(received(encodeEngineToController(results()))), /unknown binary message 3/],
      [() => decodeClientToLane(received(submit({ direct: true }))), /task item 0 from a lane client: .*flags/],
      [
        () => decodeControllerToClient(patched(encodeEngineToController(results()), 18, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f)),
        /started must be a finite/,
      ],
      [
        () => decodeControllerToClient(raw('{"t":"welcome","engines":[],"scheme":"x","hb":1,"ep":"e"}')),
        /unknown scheme "x"/,
      ],
      [() => decodeEngineToController(raw('{"t":"reg","uuid":"","node":"n","pid":1}')), /uuid must be 1 to 128/],
      [
        () =>
          decodeEngineToController(
            raw('{"t":"reg","uuid":"u","node":"n","pid":1,"lane":{"endpoint":"ipc://x","key":"k"}}'),
          ),
        /is not a tcp endpoint with a Z85 key/,
      ],
      [
        () => decodeControllerToEngine(raw('{"t":"welcome","id":1,"hb":1,"lost":1,"ep":"e","hbe":"http://x"}')),
        /no tcp endpoint/,
      ],
      [() => decodeLaneToClient(raw('{"t":"bulk","s":"s","r":1,"ep":"e"}')), /field "r" must be a string/],
      [() => decodeClientToLane(raw('{"t":"reg"}')), /unknown message "reg" from a lane client/],
      [() => decodePipelineTask(raw('{"t":"res"}')), /unknown message "res" from the pipeline distributor/],
      [() => decodePipelineReply(raw('{"t":"res","i":1,"ok":true,"s":1,"c":1,"w":1}')), /body frame is missing/],
    ];
    for (const [decode, message] of cases) {
      let error: unknown;
      try {
        decode();
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(WireError);
      expect((error as WireError).code).toBe('BadMessage');
      expect((error as Error).message).toMatch(message);
    }
  });
});
