import type { Filter } from '@aws-sdk/client-ec2';
import { ec2Error } from './errors.js';

/** The values a resource has for each filter name it supports (tags are added by `matches`). */
export type FilterFields = Record<string, readonly (string | undefined)[]>;

/** EC2's filter wildcards: `*` any run of characters, `?` one character; everything else literal. */
function wildcard(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * True when the resource passes every filter (AND across filters, OR across one filter's values),
 * as EC2 evaluates them. `tag:KEY`, `tag-key` and `tag-value` work on every resource; any other
 * name must be one the resource supports, else EC2's own answer: InvalidParameterValue.
 */
export function matches(
  filters: readonly Filter[] | undefined,
  fields: FilterFields,
  tags: Readonly<Record<string, string>>,
): boolean {
  for (const f of filters ?? []) {
    const name = f.Name ?? '';
    const values = f.Values ?? [];
    let have: readonly (string | undefined)[];
    if (name.startsWith('tag:')) {
      const key = name.slice(4);
      have = key in tags ? [tags[key]] : [];
    } else if (name === 'tag-key') have = Object.keys(tags);
    else if (name === 'tag-value') have = Object.values(tags);
    else if (name in fields) have = fields[name] ?? [];
    else throw ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
    const patterns = values.map(wildcard);
    if (!have.some((v) => v !== undefined && patterns.some((p) => p.test(v)))) return false;
  }
  return true;
}

/** One page of a listing: EC2's NextToken is an opaque offset here. */
export function page<T>(
  items: readonly T[],
  token: string | undefined,
  size: number | undefined,
): {
  items: T[];
  next?: string;
} {
  const from = token ? Number(token) : 0;
  if (!Number.isInteger(from) || from < 0) throw ec2Error('InvalidNextToken', `The token '${token}' is invalid`);
  const to = size && size > 0 ? from + size : items.length;
  return { items: items.slice(from, to), ...(to < items.length ? { next: String(to) } : {}) };
}

/** Tags as EC2 lists them. */
export function tagList(tags: Readonly<Record<string, string>>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}
