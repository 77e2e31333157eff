import { closest } from 'fastest-levenshtein';
import type { z } from 'zod';
import { UsageError } from '../errors.js';

/**
 * `--param key=value` handling: the flags arrive as strings; the job's zod schema says what each
 * value should be. Strings are coerced by the schema's declared type (numbers accept `1e10`,
 * `1_000_000`; booleans accept true/false/yes/no/1/0; arrays split on commas), then the schema
 * validates, so a job sees exactly the types it declared.
 */

/** `['samples=1e9', 'seed=7']` → `{ samples: '1e9', seed: '7' }`; a later repeat wins. */
export function parseParamFlags(flags: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flags ?? []) {
    const eq = flag.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(
        'BadParamFlag',
        `--param ${JSON.stringify(flag)} is not key=value: write it as --param name=value`,
      );
    }
    out[flag.slice(0, eq).trim()] = flag.slice(eq + 1);
  }
  return out;
}

interface ZodDefLike {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  out?: ZodLike;
  element?: ZodLike;
  options?: readonly ZodLike[];
  entries?: Record<string, unknown>;
  values?: readonly unknown[];
  shape?: Record<string, ZodLike>;
}
interface ZodLike {
  def?: ZodDefLike;
  _zod?: { def: ZodDefLike };
  shape?: Record<string, ZodLike>;
}

function defOf(schema: ZodLike | undefined): ZodDefLike | undefined {
  return schema?.def ?? schema?._zod?.def;
}

/** The value type a schema wants once wrappers (default, optional, pipe...) are peeled off. */
function baseDef(schema: ZodLike | undefined): ZodDefLike | undefined {
  let def = defOf(schema);
  for (let i = 0; def && i < 20; i++) {
    if (def.innerType) def = defOf(def.innerType);
    else if (def.type === 'pipe' && def.in) def = defOf(def.in);
    else break;
  }
  return def;
}

/** The keys of an object schema with what each expects, for messages and coercion. */
export function describeParams(schema: z.ZodType): { name: string; type: string }[] {
  const shape = objectShape(schema as unknown as ZodLike);
  return Object.entries(shape).map(([name, s]) => ({ name, type: typeName(baseDef(s)) }));
}

function objectShape(schema: ZodLike): Record<string, ZodLike> {
  const def = baseDef(schema);
  if (def?.type !== 'object') return {};
  return def.shape ?? schema.shape ?? {};
}

function typeName(def: ZodDefLike | undefined): string {
  if (!def) return 'value';
  if (def.type === 'enum') return Object.keys(def.entries ?? {}).join('|');
  if (def.type === 'literal') return (def.values ?? []).map(String).join('|');
  if (def.type === 'array') return `${typeName(baseDef(def.element))} list`;
  return def.type;
}

const NUMBER = /^[+-]?(\d[\d_]*\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function coerce(raw: string, def: ZodDefLike | undefined): unknown {
  switch (def?.type) {
    case 'number': {
      const text = raw.trim();
      if (!NUMBER.test(text)) return raw; // the schema will say what it wanted
      return Number(text.replaceAll('_', ''));
    }
    case 'int':
    case 'bigint':
      return NUMBER.test(raw.trim()) ? Number(raw.trim().replaceAll('_', '')) : raw;
    case 'boolean': {
      const t = raw.trim().toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(t)) return true;
      if (['false', 'no', 'off', '0'].includes(t)) return false;
      return raw;
    }
    case 'array':
      return raw === '' ? [] : raw.split(',').map((item) => coerce(item.trim(), baseDef(def.element)));
    case 'union': {
      // Prefer a numeric reading when the union allows a number, else keep the string.
      const types = (def.options ?? []).map((o) => baseDef(o)?.type);
      if (types.includes('number') && NUMBER.test(raw.trim())) return Number(raw.trim().replaceAll('_', ''));
      if (types.includes('boolean') && ['true', 'false'].includes(raw.trim().toLowerCase()))
        return raw.trim().toLowerCase() === 'true';
      return raw;
    }
    default:
      return raw;
  }
}

/**
 * Coerces `--param` strings by the job's schema and validates them. Unknown names and bad values
 * are UsageErrors naming the parameter and the fix; every problem is reported at once.
 */
export function resolveParams<P>(jobName: string, schema: z.ZodType<P>, raw: Record<string, string>): P {
  const shape = objectShape(schema as unknown as ZodLike);
  const known = Object.keys(shape);
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (known.length > 0 && !(key in shape)) {
      const hint = known.length ? ` (did you mean ${closest(key, known)}?)` : '';
      problems.push(`--param ${key}: job ${jobName} has no parameter ${JSON.stringify(key)}${hint}`);
      continue;
    }
    input[key] = coerce(value, baseDef(shape[key]));
  }
  if (problems.length === 0) {
    const parsed = schema.safeParse(input);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      const name = issue.path.map(String).join('.') || '(params)';
      const given = name in raw ? ` (got ${JSON.stringify(raw[name])})` : '';
      const want = shape[name] ? `; give --param ${name}=<${typeName(baseDef(shape[name]))}>` : '';
      problems.push(`--param ${name}: ${issue.message.toLowerCase()}${given}${want}`);
    }
  }
  const params = describeParams(schema)
    .map((p) => `${p.name}=<${p.type}>`)
    .join(' ');
  throw new UsageError(
    'BadJobParam',
    problems.length === 1 ? problems[0]! : `${problems.length} bad parameters for job ${jobName}`,
    {
      details: problems.length === 1 ? [] : problems,
      hint: params ? `job ${jobName} takes: ${params}` : undefined,
    },
  );
}
