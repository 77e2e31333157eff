import type { IoHost, IoMessage, ProgressEvent } from '../../src/io-host.js';

/** Records everything the library says, for assertions; answers questions from a script. */
export class RecordingIoHost implements IoHost {
  readonly messages: IoMessage[] = [];
  readonly events: ProgressEvent[] = [];
  readonly questions: string[] = [];

  constructor(private readonly answers: boolean[] = []) {}

  notify(message: IoMessage): void {
    this.messages.push(message);
  }

  progress(event: ProgressEvent): void {
    this.events.push(event);
  }

  requestConfirm(question: string, defaultAnswer: boolean): Promise<boolean> {
    this.questions.push(question);
    return Promise.resolve(this.answers.shift() ?? defaultAnswer);
  }

  /** Everything said, as text, e.g. to check that no secret leaked. */
  text(): string {
    return [
      ...this.messages.map((m) => `${m.level} ${m.code} ${m.message} ${JSON.stringify(m.data ?? null)}`),
      ...this.events.map((e) => `${e.state} ${e.title} ${e.detail ?? ''}`),
    ].join('\n');
  }
}
