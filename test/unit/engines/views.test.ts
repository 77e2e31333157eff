import { describe, expect, it } from 'vitest';
import type { Submission, Submitter } from '../../../src/engines/client/framing.js';
import { DirectView } from '../../../src/engines/client/views.js';
import type { Frames } from '../../../src/engines/protocol/sockets.js';

/** A Submitter that records each task's frames and answers nothing. */
function recorder(ids: number[]): Submitter & { sent: { sub: Submission; frames: Frames }[] } {
  const sent: { sub: Submission; frames: Frames }[] = [];
  return {
    ids,
    sent,
    submit(sub, frames) {
      sent.push({ sub, frames });
      return sent.length;
    },
    abort() {},
  };
}

const binary = (frames: Frames): Uint8Array[] =>
  frames.filter((f): f is Uint8Array => typeof f !== 'string' && f.byteLength > 64);

describe('DirectView.scatter', () => {
  it("frames a typed array's parts straight from its memory (no copy), one contiguous block per engine", () => {
    const client = recorder([0, 1, 2]);
    const data = new Float64Array(1001).map((_, i) => i);
    void new DirectView(client, 'all').scatter('x', data);
    expect(client.sent.map((s) => s.sub.to)).toEqual([[0], [1], [2]]);
    const parts = client.sent.map((s) => binary(s.frames));
    const offsets = parts.map((p) => p.map((f) => [f.buffer === data.buffer, f.byteOffset, f.byteLength]));
    expect(offsets).toEqual([[[true, 0, 334 * 8]], [[true, 334 * 8, 334 * 8]], [[true, 668 * 8, 333 * 8]]]);
  });

  it('slices other sequences', () => {
    const client = recorder([0, 1]);
    void new DirectView(client, 'all').scatter('x', [1, 2, 3]);
    expect(client.sent.map((s) => String(s.frames.find((f) => typeof f === 'string' || f.byteLength > 0)))).toEqual([
      expect.stringContaining('[1,2]'),
      expect.stringContaining('[3]'),
    ]);
  });
});

describe('DirectView.gather', () => {
  it("concatenates typed parts into one array of their type; one engine's part is returned as is", async () => {
    const answer = (parts: unknown[]) => {
      const client = recorder(parts.map((_, i) => i));
      const submit = client.submit.bind(client);
      client.submit = (sub, frames, done) => {
        const id = submit(sub, frames, done);
        done({ ok: true, value: [parts[id - 1]] }, { engine: id - 1 });
        return id;
      };
      return new DirectView(client, 'all').gather('x');
    };
    const a = new Float32Array([1, 2]);
    const b = new Float32Array([3]);
    const both = (await answer([a, b])) as Float32Array;
    expect(both).toBeInstanceOf(Float32Array);
    expect([...both]).toEqual([1, 2, 3]);
    expect(await answer([a])).toBe(a);
  });
});
