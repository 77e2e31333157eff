import { describe, expect, it } from 'vitest';
import type { Frames } from '../../../src/engines/protocol/sockets.js';
import type {
  ClientToController,
  ClientToLane,
  ControllerToClient,
  LaneToClient,
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

  it('keeps the short keys on the wire', () => {
    const [header] = encodeClientToController({
      kind: 'submit',
      tasks: [{ id: 7, body: 'b', frames: [], direct: true, retries: 0, targets: [1], timeLimitMs: 10 }],
    });
    expect(JSON.parse(header as string)).toEqual({ t: 'sub', k: [{ i: 7, n: 0, b: 'b', tl: 10, to: [1], d: 1 }] });
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
      [
        () => decodeClientToController(raw('{"t":"sub","k":[{"i":1,"n":2}]}', 'x')),
        /claims 2 more frame\(s\) at 1, but has 2/,
      ],
      [
        () => decodeClientToController(raw('{"t":"sub","k":[{"i":1,"n":0,"s":"fastest"}]}')),
        /unknown scheme "fastest"/,
      ],
      [
        () => decodeClientToController(raw('{"t":"sub","k":[{"i":1,"n":0,"tl":-5}]}')),
        /field "tl" must be a positive number/,
      ],
      [() => decodeClientToController(raw('{"t":"mod","i":1,"name":"m"}')), /code frame is missing/],
      [
        () => decodeControllerToClient(raw('{"t":"res","r":[{"i":1,"n":0,"ok":"yes","s":1,"c":2}]}')),
        /field "ok" must be a boolean/,
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
      [() => decodeControllerToEngine(raw('{"t":"run","k":{}}')), /field "k" must be a list/],
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
