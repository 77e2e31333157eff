import type { ResourceType, Tag, TagSpecification } from '@aws-sdk/client-ec2';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { AbortError, CloudError } from '../../errors.js';

/** How EC2's failures and tags look to the rest of the provider: stable error codes, tag records. */

/** The AWS error code of an SDK error or of a CloudError made from one. */
export function awsErrorCode(error: unknown): string | undefined {
  if (error instanceof CloudError) {
    const cause = error.cause;
    return awsErrorCode(cause) ?? undefined;
  }
  if (error instanceof EC2ServiceException) return error.name;
  if (typeof error === 'object' && error !== null && 'name' in error) {
    const name = (error as { name: unknown }).name;
    const code = (error as { Code?: unknown }).Code;
    if (typeof code === 'string') return code;
    if (typeof name === 'string' && name !== 'Error') return name;
  }
  return undefined;
}

/** The endpoint does not implement the action (LocalStack answers 501 InternalFailure). */
export function isNotImplemented(error: unknown): boolean {
  const root = error instanceof CloudError ? error.cause : error;
  const status = (root as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return (
    status === 501 ||
    (isCode(error, 'InternalFailure') && /not been implemented/i.test(String((root as Error)?.message)))
  );
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(error);
  return code !== undefined && codes.includes(code);
}

export function toCloudError(action: string, error: unknown): Error {
  if (error instanceof CloudError || error instanceof AbortError) return error;
  const code = awsErrorCode(error) ?? 'Unknown';
  if (code === 'AbortError' || code === 'AbortedError') return new AbortError(undefined, { cause: error });
  // Waiter failures from @smithy carry their reason as a JSON message.
  const raw = error instanceof Error ? error.message : String(error);
  const message = raw.length > 400 ? `${raw.slice(0, 400)}…` : raw;
  const stable = `Ec2${code.replace(/[^A-Za-z0-9]/g, '')}`;
  return new CloudError(stable, `ec2 ${action} failed: ${code}: ${message}`, {
    cause: error,
    ...(code === 'AuthFailure' || code === 'UnauthorizedOperation' || code === 'InvalidClientTokenId'
      ? { hint: 'check the AWS credentials in [aws info] or the AWS credential chain' }
      : {}),
  });
}

export function toTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function fromTags(tags: readonly Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

export function tagSpec(resourceType: ResourceType, tags: Record<string, string>): TagSpecification[] | undefined {
  return Object.keys(tags).length ? [{ ResourceType: resourceType, Tags: toTags(tags) }] : undefined;
}
