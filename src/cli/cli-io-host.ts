import { createInterface } from 'node:readline/promises';
import { Listr } from 'listr2';
import type { IoHost, IoMessage, ProgressEvent } from '../io-host.js';
import { redact, redactValue } from '../secrets.js';

export interface CliIoHostOptions {
  json: boolean;
  debug: boolean;
  /** Answer every confirmation with yes (e.g. `terminate -c`). */
  assumeYes?: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

interface Deferred {
  resolve: () => void;
  reject: (error: Error) => void;
  setOutput: (text: string) => void;
  setTitle: (text: string) => void;
  running: Promise<void>;
}

/**
 * Renders library messages and progress on a terminal: listr2 on a TTY, plain lines off one,
 * nothing but the final JSON under --json. Every line is redacted of registered secrets.
 */
export class CliIoHost implements IoHost {
  readonly warnings: string[] = [];
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private readonly stdin: NodeJS.ReadStream;
  private readonly active = new Map<string, Deferred>();
  /** Steps this run completed and has not undone, in order: what an interrupted run may leave behind. */
  private readonly made = new Map<string, string>();

  constructor(private readonly options: CliIoHostOptions) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.stdin = options.stdin ?? process.stdin;
  }

  get interactive(): boolean {
    return !this.options.json && Boolean(this.stdout.isTTY) && !process.env.CI;
  }

  notify(message: IoMessage): void {
    if (message.level === 'warn') this.warnings.push(message.message);
    if (message.level === 'debug' && !this.options.debug) return;
    if (this.options.json && message.level !== 'debug') return;
    const prefix = message.level === 'info' ? '' : `${message.level}: `;
    // Everything but results goes to stderr, so stdout stays clean for piping.
    this.stderr.write(redact(`${prefix}${message.message}`) + '\n');
  }

  /** Writes a line of the command's human output to stdout (silent under --json). */
  log(text = ''): void {
    if (this.options.json) return;
    this.stdout.write(redact(text) + '\n');
  }

  /** Writes the final --json document (every --json document, success or error, comes through here). */
  json(value: unknown): void {
    this.stdout.write(JSON.stringify(redactValue(value), null, 2) + '\n');
  }

  error(text: string): void {
    this.stderr.write(redact(text) + '\n');
  }

  progress(event: ProgressEvent): void {
    this.track(event);
    if (this.options.json) return;
    if (this.interactive) this.renderTty(event);
    else this.renderPlain(event);
  }

  async requestConfirm(question: string, defaultAnswer: boolean): Promise<boolean> {
    if (this.options.assumeYes) return true;
    if (!this.stdin.isTTY || this.options.json) return defaultAnswer;
    const rl = createInterface({ input: this.stdin, output: this.stderr });
    try {
      const answer = (await rl.question(`${question} ${defaultAnswer ? '[Y/n]' : '[y/N]'} `)).trim().toLowerCase();
      if (answer === '') return defaultAnswer;
      return answer === 'y' || answer === 'yes';
    } finally {
      rl.close();
    }
  }

  /** What the running command has made and not undone yet, e.g. `Security group (@sc-x (sg-1) created, 2 rules)`. */
  madeSoFar(): string[] {
    return [...this.made.values()];
  }

  private track(event: ProgressEvent): void {
    const undo = /^(.*):rollback$/.exec(event.id);
    if (undo?.[1] !== undefined) {
      if (event.state === 'done') this.made.delete(undo[1]);
      return;
    }
    if (event.state === 'done' && event.undoable)
      this.made.set(event.id, event.detail ? `${event.title} (${event.detail})` : event.title);
    // A step that failed half-way may have made part of its work.
    else if (event.state === 'fail' && event.undoable) this.made.set(event.id, `${event.title} (possibly in part)`);
  }

  /** Stops any spinner still running (on error or interrupt). */
  async close(): Promise<void> {
    for (const [id, d] of this.active) {
      d.reject(new Error('stopped'));
      this.active.delete(id);
      await d.running.catch(() => undefined);
    }
  }

  private renderPlain(event: ProgressEvent): void {
    const detail = event.detail ? ` (${event.detail})` : '';
    const count = event.total !== undefined ? ` ${event.current ?? 0}/${event.total}` : '';
    switch (event.state) {
      case 'start':
        this.stderr.write(redact(`- ${event.title}...`) + '\n');
        break;
      case 'update':
        // Off a TTY, updates would flood logs; only the end of the step is shown.
        break;
      case 'done':
        this.stderr.write(redact(`✔ ${event.title}${count}${detail}`) + '\n');
        break;
      case 'skip':
        this.stderr.write(redact(`↓ ${event.title} [skipped${detail}]`) + '\n');
        break;
      case 'fail':
        this.stderr.write(redact(`✖ ${event.title}${detail}`) + '\n');
        break;
      case 'rollback':
        this.stderr.write(redact(`↺ ${event.title}...`) + '\n');
        break;
    }
  }

  private renderTty(event: ProgressEvent): void {
    const existing = this.active.get(event.id);
    const text = (e: ProgressEvent): string => {
      const count = e.total !== undefined ? `${e.current ?? 0}/${e.total}` : '';
      return redact([count, e.detail ?? ''].filter(Boolean).join(' '));
    };
    switch (event.state) {
      case 'start':
      case 'rollback': {
        if (existing) return;
        this.active.set(event.id, this.startListrTask(event.title));
        break;
      }
      case 'update':
        existing?.setOutput(text(event));
        break;
      case 'done':
        if (existing) {
          if (event.total !== undefined || event.detail) existing.setTitle(`${event.title} (${text(event)})`);
          existing.resolve();
          this.active.delete(event.id);
        }
        break;
      case 'fail':
        if (existing) {
          existing.reject(new Error(redact(event.detail ?? 'failed')));
          this.active.delete(event.id);
        }
        break;
      case 'skip':
        this.stderr.write(redact(`↓ ${event.title} [skipped${event.detail ? `: ${event.detail}` : ''}]`) + '\n');
        break;
    }
  }

  private startListrTask(title: string): Deferred {
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const finished = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const holder: { output?: (t: string) => void; title?: (t: string) => void } = {};
    const list = new Listr(
      [
        {
          title,
          task: async (_ctx, task) => {
            holder.output = (t) => (task.output = t);
            holder.title = (t) => (task.title = t);
            await finished;
          },
        },
      ],
      { renderer: 'default', exitOnError: true, registerSignalListeners: false },
    );
    const running = list.run().then(
      () => undefined,
      () => undefined,
    );
    return {
      resolve,
      reject,
      setOutput: (t) => holder.output?.(t),
      setTitle: (t) => holder.title?.(t),
      running,
    };
  }
}
