import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue, FRAME_CHUNK } from '../../../src/engines/protocol/codec.js';
import { z85Decode, z85Encode, isCurveKey } from '../../../src/engines/protocol/z85.js';

const roundTrip = (v: unknown): unknown => {
  const { body, buffers } = encodeValue(v);
  // what the wire gives: Buffers copied out of a message
  return decodeValue(
    Buffer.from(body),
    buffers.map((b) => Buffer.from(b)),
  );
};

describe('value codec', () => {
  it('keeps JSON values exactly', () => {
    const v = { a: 1, b: 'x', c: [true, null, { d: -2.5 }], e: {} };
    expect(roundTrip(v)).toEqual(v);
  });

  it('an array of JSON-exact primitives is one JSON.stringify (no walk); holes, -0 and others still round-trip', () => {
    const plain = [1, 'two', true, null, -3.5, 0];
    expect(encodeValue(plain)).toEqual({ body: JSON.stringify(plain), buffers: [] });
    expect(encodeValue([])).toEqual({ body: '[]', buffers: [] });
    // the walk: holes read as undefined, -0 and undefined keep their placeholders
    // eslint-disable-next-line no-sparse-arrays -- a hole is the case under test
    const holes = [1, , 3];
    expect(roundTrip(holes)).toEqual([1, undefined, 3]);
    expect(Object.is((roundTrip([1, -0]) as number[])[1], -0)).toBe(true);
    expect(roundTrip([1, undefined, NaN])).toEqual([1, undefined, NaN]);
  });

  it('sends typed arrays as raw binary frames, never as JSON numbers', () => {
    const f = new Float64Array([Math.PI, -0, 1e300, Number.NaN]);
    const { body, buffers } = encodeValue({ f });
    expect(buffers).toHaveLength(1);
    expect(buffers[0]!.byteLength).toBe(32);
    expect(body).not.toContain('3.14');
    const back = roundTrip({ f }) as { f: Float64Array };
    expect(back.f).toBeInstanceOf(Float64Array);
    expect(Array.from(back.f)).toEqual(Array.from(f));
  });

  it('round-trips every typed array kind, views with offsets, ArrayBuffer and DataView', () => {
    const base = new Float32Array([1, 2, 3, 4, 5]);
    const v = {
      i8: new Int8Array([-1, 2]),
      u8: new Uint8Array([255]),
      c: new Uint8ClampedArray([9]),
      i16: new Int16Array([-300]),
      u16: new Uint16Array([60000]),
      i32: new Int32Array([-7, 8]),
      u32: new Uint32Array([4e9]),
      f32: base.subarray(1, 3),
      big: new BigInt64Array([-(2n ** 63n), 42n]),
      ubig: new BigUint64Array([2n ** 64n - 1n]),
      ab: new Uint8Array([1, 2, 3]).buffer,
      dv: new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2),
      buf: Buffer.from('hi'),
    };
    const back = roundTrip(v) as Record<string, unknown>;
    expect(back.f32).toEqual(new Float32Array([2, 3]));
    expect(back.big).toEqual(new BigInt64Array([-(2n ** 63n), 42n]));
    expect(back.ubig).toEqual(new BigUint64Array([2n ** 64n - 1n]));
    expect(back.i32).toEqual(new Int32Array([-7, 8]));
    expect(new Uint8Array(back.ab as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    const dv = back.dv as DataView;
    expect([dv.getUint8(0), dv.getUint8(1)]).toEqual([8, 9]);
    expect(back.buf).toEqual(new Uint8Array([104, 105]));
    for (const k of ['i8', 'u8', 'c', 'i16', 'u16', 'u32']) expect(back[k]).toEqual(v[k as keyof typeof v]);
  });

  it('keeps BigInt, undefined, special numbers, Date, Map, Set and Error', () => {
    const when = new Date('2026-11-25T09:00:00Z');
    const back = roundTrip({
      n: 12345678901234567890n,
      u: undefined,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      negz: -0,
      when,
      m: new Map<unknown, unknown>([[1, new Int32Array([1])]]),
      s: new Set(['a']),
      arr: [undefined, 1n],
    }) as Record<string, unknown>;
    expect(back.n).toBe(12345678901234567890n);
    expect('u' in back && back.u === undefined).toBe(true);
    expect(back.nan).toBeNaN();
    expect(back.inf).toBe(Number.POSITIVE_INFINITY);
    expect(back.ninf).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(back.negz, -0)).toBe(true);
    expect(back.when).toEqual(when);
    expect(back.m).toEqual(new Map([[1, new Int32Array([1])]]));
    expect(back.s).toEqual(new Set(['a']));
    expect(back.arr).toEqual([undefined, 1n]);
    const err = roundTrip(new RangeError('bad')) as Error;
    expect(err.name).toBe('RangeError');
    expect(err.message).toBe('bad');
    expect(err.stack).toContain('bad');
  });

  it('escapes user objects that use the placeholder key', () => {
    const v = { $sc: 'ta', b: 0, nested: { $sc: 1 } };
    expect(roundTrip(v)).toEqual(v);
  });

  it('rejects functions and cycles with the path of the bad value', () => {
    expect(() => encodeValue({ a: [1, () => 2] })).toThrow(/function at \$\.a\[1\]/);
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => encodeValue(cyc)).toThrow(/circular/);
  });

  it('copies a misaligned frame instead of viewing it', () => {
    const { body } = encodeValue(new Float64Array([1.5]));
    const slab = new Uint8Array(9);
    slab.set(new Uint8Array(new Float64Array([1.5]).buffer), 1);
    const back = decodeValue(body, [slab.subarray(1)]) as Float64Array;
    expect(back[0]).toBe(1.5);
  });
});

describe('z85', () => {
  it('matches the RFC 32 test vector', () => {
    const bytes = new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(bytes);
  });

  it('round-trips a CURVE key and rejects bad text', () => {
    const key = new Uint8Array(32).map((_, i) => (i * 37) & 0xff);
    const text = z85Encode(key);
    expect(isCurveKey(text)).toBe(true);
    expect(z85Decode(text)).toEqual(key);
    expect(() => z85Decode('abc')).toThrow(/multiple of 5/);
    expect(() => z85Decode('Hello Worl')).toThrow(/invalid z85 character/);
    expect(isCurveKey('short')).toBe(false);
  });
});

describe('large binary values', () => {
  it('splits data larger than FRAME_CHUNK into frames of at most FRAME_CHUNK bytes and joins them', () => {
    const big = new Float64Array(FRAME_CHUNK / 8 + 1000);
    for (let i = 0; i < big.length; i++) big[i] = i * 0.5;
    const { body, buffers } = encodeValue({ big, ab: big.buffer.slice(0, FRAME_CHUNK + 8) });
    expect(buffers.length).toBe(4);
    expect(Math.max(...buffers.map((b) => b.byteLength))).toBeLessThanOrEqual(FRAME_CHUNK);
    // frames as a socket delivers them: each its own buffer (joined by one copy)
    const apart = decodeValue(
      body,
      buffers.map((b) => Uint8Array.from(b)),
    ) as { big: Float64Array; ab: ArrayBuffer };
    const same = (a: Float64Array): boolean => a.length === big.length && a.every((x, i) => x === big[i]);
    expect(same(apart.big)).toBe(true);
    expect(apart.ab.byteLength).toBe(FRAME_CHUNK + 8);
    // consecutive in one buffer (as the bulk lane delivers them): one view, no copy
    const slab = new Uint8Array(big.byteLength);
    slab.set(new Uint8Array(big.buffer));
    const views = [slab.subarray(0, FRAME_CHUNK), slab.subarray(FRAME_CHUNK)];
    const joined = decodeValue(encodeValue(big).body, views) as Float64Array;
    expect(joined.buffer).toBe(slab.buffer);
    expect(same(joined)).toBe(true);
  });
});
