/**
 * The only way the library talks to a user. The CLI renders messages and progress for a terminal
 * (listr2 on a TTY, plain lines off one, nothing under --json); tests use a recording host.
 */
export type MessageLevel = 'debug' | 'info' | 'warn' | 'error';

export interface IoMessage {
  level: MessageLevel;
  /** Stable message code, e.g. `SC_START_I1000`. */
  code: string;
  message: string;
  data?: unknown;
}

export type ProgressState = 'start' | 'update' | 'done' | 'skip' | 'fail' | 'rollback';

export interface ProgressEvent {
  /** Stable id of the step, unique within one run. */
  id: string;
  state: ProgressState;
  title: string;
  /** Short text shown beside the title (counts, rates, what is being waited for). */
  detail?: string;
  /** For bars: work done and total work. */
  current?: number;
  total?: number;
  /** On `done`/`fail`: the step made something its rollback would undo (what an interrupted run may leave). */
  undoable?: boolean;
}

export interface IoHost {
  notify(message: IoMessage): void;
  progress(event: ProgressEvent): void;
  /** Asks a yes/no question; a non-interactive host returns `defaultAnswer` without asking. */
  requestConfirm(question: string, defaultAnswer: boolean): Promise<boolean>;
}
