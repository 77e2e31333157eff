import { JobError } from '../../errors.js';

/** A task raised on its engine; carries the remote error's name, message and stack. */
export class RemoteTaskError extends JobError {
  constructor(
    readonly engine: number,
    readonly taskId: number,
    readonly remoteName: string,
    readonly remoteMessage: string,
    readonly remoteStack: string | undefined,
  ) {
    super('RemoteTaskError', `task ${taskId} failed on engine ${engine}: ${remoteName}: ${remoteMessage}`, {
      details: remoteStack ? remoteStack.split('\n').slice(0, 20) : [],
      hint: 'the remote stack is in the details (shown with --debug)',
    });
  }
}

/** The engine running a task died (and the task was not, or could no longer be, resubmitted). */
export class EngineDiedError extends JobError {
  constructor(
    readonly engine: number,
    readonly taskId: number,
    message: string,
  ) {
    super('EngineDied', `task ${taskId}: ${message}`, {
      hint: 'direct tasks are never resubmitted; load-balanced ones are, up to the controller deathRetries',
    });
  }
}

/** `get(timeoutMs)` ran out before the result was ready (the task keeps running). */
export class TaskTimeoutError extends JobError {
  constructor(
    readonly timeoutMs: number,
    readonly done: number,
    readonly total: number,
  ) {
    super(
      'TaskTimeout',
      `result not ready after ${timeoutMs} ms (${done} of ${total} tasks done): wait longer, or check the engines are alive`,
    );
  }
}

/** The task was aborted (`AsyncResult.abort()`) before an engine started it, or interrupted while it ran. */
export class TaskAbortedError extends JobError {
  constructor(
    readonly taskId: number,
    /** True if an engine was running it (`abort({ running: true })`). */
    readonly running = false,
  ) {
    super('TaskAborted', `task ${taskId} was ${running ? 'interrupted while it ran' : 'aborted before it started'}`);
  }
}

/** The task ran past its time limit on its engine (`timeLimitMs`). */
export class TaskTimeLimitError extends JobError {
  constructor(
    readonly engine: number,
    readonly taskId: number,
    /** What happened, without the task and engine ("ran longer than its time limit of 200 ms…"). */
    readonly reason: string,
  ) {
    super('TaskTimeLimit', `task ${taskId} on engine ${engine}: ${reason}`, {
      hint: 'raise timeLimitMs, or split the work into smaller tasks',
    });
  }
}

/** Several tasks of one result failed (a DirectView call on many engines, or a map). */
export class CompositeTaskError extends JobError {
  constructor(readonly errors: JobError[]) {
    super('CompositeTaskError', `${errors.length} tasks failed; first: ${errors[0]?.message ?? ''}`, {
      details: errors.slice(0, 20).map((e) => e.message),
    });
  }
}
