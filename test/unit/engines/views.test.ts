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
  /**
   * Engines that hold `parts` (engine i: parts[i] as `x`): a probe task runs the shipped function for
   * real (with `x` as a global), a pull answers [value], received into `sub.into` when it is given
   * (as the bulk lane does). Returns the gather's result and what was sent.
   */
  const answer = (parts: unknown[]) => {
    const client = recorder(parts.map((_, i) => i));
    const submit = client.submit.bind(client);
    client.submit = (sub, frames, done) => {
      const id = submit(sub, frames, done);
      const engine = sub.to![0]!;
      const head = JSON.parse(frames[0] as string) as { k: string; f?: string; a: unknown[] };
      let value: unknown;
      if (head.k === 'a') {
        const g = globalThis as unknown as Record<string, unknown>;
        g.x = parts[engine];
        value = (new Function(`return ${head.f!}`)() as (...a: unknown[]) => unknown)(...head.a);
        delete g.x;
      } else {
        const v = parts[engine] as Uint8Array;
        if (sub.into) sub.into.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        value = [
          sub.into ? new (v.constructor as Float64ArrayConstructor)(sub.into.buffer, sub.into.byteOffset, v.length) : v,
        ];
      }
      done({ ok: true, value }, { engine });
      return id;
    };
    return { result: new DirectView(client, 'all').gather('x'), sent: client.sent };
  };

  it("concatenates typed parts into one array of their type; one engine's part is returned as is", async () => {
    const a = new Float32Array([1, 2]);
    const b = new Float32Array([3]);
    const both = (await answer([a, b]).result) as Float32Array;
    expect(both).toBeInstanceOf(Float32Array);
    expect([...both]).toEqual([1, 2, 3]);
    const one = answer([a]);
    expect(await one.result).toBe(a);
    expect(one.sent.map((s) => s.sub.into)).toEqual([undefined]); // one part: a plain pull, no probe
  });

  it('small parts come back with the probe: one task per engine, concatenated', async () => {
    const { result, sent } = answer([new Int16Array([1, 2]), new Int16Array([3])]);
    expect([...((await result) as Int16Array)]).toEqual([1, 2, 3]);
    expect(sent).toHaveLength(2);
    expect(sent.every((s) => s.sub.bulk === true)).toBe(true);
  });

  it('receives large typed parts straight into the final array: one buffer, no copy of the parts', async () => {
    const big = new Float64Array((3 << 20) / 8).map((_, i) => i);
    const small = new Float64Array([-1, -2]);
    const parts = [big.subarray(0, 200_000), small, big.subarray(200_000)];
    const { result, sent } = answer(parts);
    const whole = (await result) as Float64Array;
    expect(whole.length).toBe(big.length + 2);
    expect(whole[0]).toBe(0);
    expect([whole[200_000], whole[200_001], whole[200_002]]).toEqual([-1, -2, 200_000]);
    expect(whole[whole.length - 1]).toBe(big.length - 1);
    // probes to all three, then pulls of the two large parts, each into its place in one buffer
    const pulls = sent.slice(3);
    expect(pulls.map((s) => s.sub.to)).toEqual([[0], [2]]);
    const into = pulls.map((s) => s.sub.into!);
    expect(into[0]!.buffer).toBe(into[1]!.buffer);
    expect([into[0]!.byteOffset, into[1]!.byteOffset]).toEqual([0, 200_002 * 8]);
    expect(whole.buffer).toBe(into[0]!.buffer);
    expect(whole.byteLength).toBe(whole.buffer.byteLength);
  });

  it('values that are not typed arrays come back with the probe; mixed parts stay a list', async () => {
    expect(await answer([[1, 2], [3]]).result).toEqual([1, 2, 3]);
    const big = new Uint8Array(2 << 20);
    const mixed = answer([big, 'text']);
    const out = (await mixed.result) as unknown[];
    expect(out[0]).toBe(big);
    expect(out[1]).toBe('text');
    expect(mixed.sent.slice(2).map((s) => [s.sub.to, s.sub.into])).toEqual([[[0], undefined]]);
  });
});
