import { describe, expect, it } from 'vitest';
import { JobError } from '../../../src/errors.js';
import { renderRunResult, summarise } from '../../../src/jobs/index.js';
import { taskFailure } from '../../../src/jobs/runtime.js';

describe('renderRunResult', () => {
  it('gives the headline numbers exactly and where the figures are', () => {
    const text = renderRunResult(
      {
        job: 'pi',
        cluster: 'demo',
        engines: 2,
        tasks: 8,
        seconds: 1.234,
        result: { pi: 3.14159265, samples: 1e10, inside: 7853981634, perEngine: [{}, {}], nested: { a: 1 } },
        figures: ['/w/out/pi/pi-a.svg', '/w/out/pi/pi-a.png'],
        params: {},
        enginesLost: [],
        printed: [],
      },
      '/w',
    );
    expect(text.split('\n')).toEqual([
      'pi on demo: 8 tasks on 2 engines in 1.23 s',
      '  pi: 3.14159265',
      '  samples: 10,000,000,000',
      '  inside: 7,853,981,634',
      '  perEngine: 2 items',
      'figures (.svg and .png) in out/pi/:',
      '  pi-a.svg  pi-a.png',
    ]);
  });

  it('shows what tasks printed, each line behind its task and engine, the first tasks and lines only', () => {
    const many = Array.from({ length: 25 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const text = renderRunResult(
      {
        job: 'j',
        cluster: 'local',
        engines: 2,
        tasks: 12,
        seconds: 0,
        result: 7,
        figures: [],
        params: {},
        enginesLost: [],
        printed: [
          { task: 0, engine: 1, stdout: 'hello\n', stderr: 'careful\n' },
          { task: 1, engine: 0, stdout: many },
          ...Array.from({ length: 10 }, (_, i) => ({ task: i + 2, engine: 0, stdout: 'x\n' })),
        ],
      },
      '/w',
    );
    const lines = text.split('\n');
    expect(lines).toContain('printed by 12 tasks:');
    expect(lines).toContain('  [task 0, engine 1] hello');
    expect(lines).toContain('  [task 0, engine 1] careful');
    expect(lines).toContain('  [task 1, engine 0] line 19');
    expect(lines).not.toContain('  [task 1, engine 0] line 20');
    expect(lines).toContain('  [task 1, engine 0] … 5 more lines');
    expect(lines).toContain('  … 2 more tasks printed (all of it is in --json)');
  });

  it('shows paths outside the working folder as absolute', () => {
    const text = renderRunResult(
      {
        job: 'j',
        cluster: 'local',
        engines: 1,
        tasks: 1,
        seconds: 0,
        result: 7,
        figures: ['/tmp/x/f.svg', '/tmp/x/f.png'],
        params: {},
        enginesLost: [],
        printed: [],
      },
      '/w',
    );
    expect(text).toContain('figures (.svg and .png) in /tmp/x/:');
    expect(text).toContain('  result: 7');
  });

  it('summarises scalars and arrays only', () => {
    expect(summarise([1, 2])).toEqual(['result: 2 items']);
    expect(summarise({ ok: true, tiny: 1.5e-7, arr: new Float64Array(3) })).toEqual([
      'ok: true',
      'tiny: 1.5000e-7',
      'arr: 3 items',
    ]);
  });
});

describe('taskFailure', () => {
  const remote = (taskId: number, engine: number): JobError =>
    Object.assign(new JobError('RemoteTaskError', `task ${taskId} failed`), {
      taskId,
      engine,
      remoteName: 'RangeError',
      remoteMessage: 'bad input',
      remoteStack: 'RangeError: bad input\n    at run (job.ts:3:9)',
    });

  it('names the task by its index in the job, the engine and the remote error', () => {
    const error = taskFailure(remote(42, 3), [40, 41, 42]) as JobError;
    expect(error.code).toBe('TaskFailed');
    expect(error.message).toBe('task 2 failed on engine 3: RangeError: bad input');
    expect(error.details).toEqual(['RangeError: bad input', '    at run (job.ts:3:9)']);
  });

  it('reports the first of several failures and counts the rest', () => {
    const composite = Object.assign(new JobError('CompositeTaskError', '2 tasks failed'), {
      errors: [remote(11, 0), remote(12, 1)],
    });
    const error = taskFailure(composite, [10, 11, 12]) as JobError;
    expect(error.message).toBe('task 1 failed on engine 0: RangeError: bad input');
    expect(error.details.at(-1)).toBe('(1 more task failed)');
  });

  it('passes through errors that are not about a task', () => {
    const other = new JobError('ControllerLost', 'lost');
    expect(taskFailure(other, [1])).toBe(other);
  });
});
