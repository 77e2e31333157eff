import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StarclusterError } from '../../../src/errors.js';
import { describeParams, parseParamFlags, resolveParams } from '../../../src/jobs/params.js';

const schema = z.object({
  samples: z.number().int().positive().default(1e9),
  seed: z.number().default(1),
  fast: z.boolean().default(false),
  band: z.enum(['u', 'g', 'r']).default('g'),
  data: z.string().optional(),
  ids: z.array(z.number()).default([]),
});

function usageError(fn: () => unknown): StarclusterError {
  try {
    fn();
  } catch (error) {
    if (StarclusterError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe('parseParamFlags', () => {
  it('splits key=value at the first =, later repeats win', () => {
    expect(parseParamFlags(['a=1', 'expr=x=y', 'a=2'])).toEqual({ a: '2', expr: 'x=y' });
    expect(parseParamFlags(undefined)).toEqual({});
  });
  it('rejects a flag without =', () => {
    const error = usageError(() => parseParamFlags(['samples']));
    expect(error.code).toBe('BadParamFlag');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('name=value');
  });
});

describe('resolveParams', () => {
  it('coerces numbers (1e10, underscores), booleans, enums, lists and applies defaults', () => {
    const p = resolveParams('pi', schema, { samples: '1e10', seed: '1_000', fast: 'yes', band: 'r', ids: '1, 2,3' });
    expect(p).toEqual({ samples: 1e10, seed: 1000, fast: true, band: 'r', ids: [1, 2, 3] });
    expect(resolveParams('pi', schema, {})).toEqual({ samples: 1e9, seed: 1, fast: false, band: 'g', ids: [] });
  });
  it('names the parameter, the bad value and the fix', () => {
    const error = usageError(() => resolveParams('pi', schema, { samples: 'lots' }));
    expect(error.code).toBe('BadJobParam');
    expect(error.message).toContain('--param samples');
    expect(error.message).toContain('"lots"');
    expect(error.message).toContain('--param samples=<number>');
  });
  it('rejects values the schema refuses after coercion', () => {
    const error = usageError(() => resolveParams('pi', schema, { samples: '-5', band: 'x' }));
    expect(error.message).toBe('2 bad parameters for job pi');
    expect(error.details.join('\n')).toMatch(/samples.*"-5"/);
    expect(error.details.join('\n')).toMatch(/band.*"x".*u\|g\|r/);
  });
  it('suggests the closest name for an unknown parameter', () => {
    const error = usageError(() => resolveParams('pi', schema, { sampels: '10' }));
    expect(error.message).toContain('did you mean samples?');
    expect(error.hint).toContain('samples=<number>');
  });
  it('describes the parameters', () => {
    expect(describeParams(schema)).toContainEqual({ name: 'band', type: 'u|g|r' });
  });
});
