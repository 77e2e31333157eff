import type { TagSpecification } from '@aws-sdk/client-ec2';
import { ec2Error } from './errors.js';
import type { Tags } from './store.js';

/** One EC2 action's answer: the SDK output without `$metadata`, from the SDK input. */
export type Handler = (input: unknown) => unknown;
export type Routes = Record<string, Handler>;

/**
 * Types a handler by the SDK input of its command. The cast is the one place the fake trusts the
 * SDK: the middleware hands each command's own input to the handler registered under its name.
 */
export function route<I>(fn: (input: I) => unknown): Handler {
  return (input) => fn(input as I);
}

/** EC2's limits on tags: 50 per resource, keys up to 128 characters, values up to 256, no `aws:` keys. */
export function checkTags(tags: Tags): void {
  const entries = Object.entries(tags);
  if (entries.length > 50) throw ec2Error('TagLimitExceeded', 'The maximum number of tags (50) was exceeded');
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > 128)
      throw ec2Error('InvalidParameterValue', `Tag key '${key.slice(0, 20)}…' must be 1 to 128 characters`);
    if (value.length > 256)
      throw ec2Error('InvalidParameterValue', `Tag value exceeds the maximum length of 256 characters (key ${key})`);
    if (key.toLowerCase().startsWith('aws:'))
      throw ec2Error('InvalidParameterValue', `Tag keys starting with 'aws:' are reserved (${key})`);
  }
}

/** The tags a TagSpecifications list gives one resource type (checked against EC2's limits). */
export function tagsFor(
  specs: readonly TagSpecification[] | undefined,
  type: string,
  allowed: readonly string[],
): Tags {
  const out: Tags = {};
  for (const spec of specs ?? []) {
    const t = spec.ResourceType ?? '';
    if (!allowed.includes(t))
      throw ec2Error('InvalidParameterValue', `'${t}' is not a valid taggable resource type for this operation`);
    if (t !== type) continue;
    for (const tag of spec.Tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  }
  checkTags(out);
  return out;
}
