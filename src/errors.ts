/**
 * One error hierarchy for everything a user can see fail. Every error has a stable `code`
 * (PascalCase, never reworded once shipped), a message that names the bad value and the fix,
 * and an exit code from the table below. The CLI prints `message` (and `details`, one per line);
 * a stack trace only with --debug.
 */
export const ExitCode = {
  ok: 0,
  runtime: 1,
  usage: 2,
  config: 3,
  cloud: 4,
  remote: 5,
  job: 6,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const BRAND = Symbol.for('starcluster.error');

export interface StarclusterErrorOptions {
  /** Extra lines shown under the message, e.g. every config problem at once. */
  details?: readonly string[];
  /** What the user can do next. */
  hint?: string;
  cause?: unknown;
}

export class StarclusterError extends Error {
  readonly [BRAND] = true;
  readonly exitCode: ExitCodeValue = ExitCode.runtime;
  readonly details: readonly string[];
  readonly hint: string | undefined;

  constructor(
    readonly code: string,
    message: string,
    options: StarclusterErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details ?? [];
    this.hint = options.hint;
  }

  /** Works across duplicate copies of this module, where instanceof does not. */
  static is(value: unknown): value is StarclusterError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Bad flags or arguments. */
export class UsageError extends StarclusterError {
  override readonly exitCode = ExitCode.usage;
}
/** The config file is missing, unreadable or invalid. */
export class ConfigError extends StarclusterError {
  override readonly exitCode = ExitCode.config;
}
/** The cloud API refused, failed, or the cloud state is not what the command needs. */
export class CloudError extends StarclusterError {
  override readonly exitCode = ExitCode.cloud;
}
/** SSH, SFTP or a remote command failed. */
export class RemoteError extends StarclusterError {
  override readonly exitCode = ExitCode.remote;
}
/** A job, an engine or the controller failed. */
export class JobError extends StarclusterError {
  override readonly exitCode = ExitCode.job;
}
/** The user interrupted (Ctrl-C) or declined; cleanup has run. */
export class AbortError extends StarclusterError {
  override readonly exitCode = ExitCode.interrupted;
  constructor(message = 'interrupted: what this run made has been cleaned up', options: StarclusterErrorOptions = {}) {
    super('Interrupted', message, options);
  }
}

/** Throws AbortError if the signal has fired; call between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}

/** Exit code for anything thrown: ours carry their own; anything else is a bug (1). */
export function exitCodeOf(error: unknown): number {
  return StarclusterError.is(error) ? error.exitCode : ExitCode.runtime;
}
