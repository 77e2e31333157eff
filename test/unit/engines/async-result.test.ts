import { describe, expect, it } from 'vitest';
import { JobError } from '../../../src/errors.js';
import { AsyncResult, CompositeTaskError } from '../../../src/engines/index.js';

const fail = (message: string) => ({ ok: false as const, error: new JobError('RemoteTaskError', message) });

describe('AsyncResult settles once every part is in', () => {
  it('all parts ok: the combined values, in part order, whatever order they arrived in', async () => {
    const ar = new AsyncResult<unknown[]>(3, 0, (values) => values);
    ar.complete(2, { ok: true, value: 'c' }, {});
    ar.complete(0, { ok: true, value: 'a' }, {});
    expect(ar.ready()).toBe(false);
    ar.complete(1, { ok: true, value: 'b' }, {});
    await expect(ar).resolves.toEqual(['a', 'b', 'c']);
    expect(ar.metadata.map((m) => m.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('one failed part: its own error; several: a CompositeTaskError with them in part order', async () => {
    const one = new AsyncResult<unknown[]>(2, 0, (values) => values);
    one.complete(0, { ok: true, value: 1 }, {});
    one.complete(1, fail('only'), {});
    await expect(one).rejects.toThrow('only');
    const two = new AsyncResult<unknown[]>(3, 0, (values) => values);
    two.complete(2, fail('third'), {});
    two.complete(0, fail('first'), {});
    two.complete(1, { ok: true, value: 2 }, {});
    const error = await Promise.resolve(two).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CompositeTaskError);
    expect((error as CompositeTaskError).errors.map((e) => (e as Error).message)).toEqual(['first', 'third']);
    expect(two.metadata.map((m) => m.status)).toEqual(['error', 'ok', 'error']);
  });

  it('a part completes once; no parts resolves at once; a combine that throws rejects', async () => {
    const ar = new AsyncResult<unknown[]>(1, 0, (values) => values);
    ar.complete(0, { ok: true, value: 'first' }, {});
    ar.complete(0, { ok: true, value: 'again' }, {});
    await expect(ar).resolves.toEqual(['first']);
    await expect(new AsyncResult<unknown[]>(0, 0, (values) => values)).resolves.toEqual([]);
    const bad = new AsyncResult<unknown>(1, 0, () => {
      throw new RangeError('combine');
    });
    bad.complete(0, { ok: true, value: 1 }, {});
    await expect(bad).rejects.toThrow('combine');
  });
});
