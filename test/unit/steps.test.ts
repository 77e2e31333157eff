import { describe, expect, it } from 'vitest';
import { AbortError, StarclusterError } from '../../src/errors.js';
import { runSteps, type Step } from '../../src/steps.js';
import { RecordingIoHost } from '../_helpers/recording-io-host.js';

function recorder() {
  const log: string[] = [];
  const step = (id: string, fail = false): Step<object> => ({
    id,
    title: id,
    run: async () => {
      log.push(`run ${id}`);
      if (fail) throw new StarclusterError('Boom', `${id} failed`);
    },
    rollback: async () => {
      log.push(`undo ${id}`);
    },
  });
  return { log, step };
}

describe('runSteps', () => {
  it('runs steps in order and reports each', async () => {
    const { log, step } = recorder();
    const io = new RecordingIoHost();
    await runSteps([step('a'), step('b')], {}, { io });
    expect(log).toEqual(['run a', 'run b']);
    expect(io.events.map((e) => `${e.state}:${e.id}`)).toEqual(['start:a', 'done:a', 'start:b', 'done:b']);
  });

  it('rolls back completed steps in reverse order, including the one that failed', async () => {
    const { log, step } = recorder();
    const io = new RecordingIoHost();
    await expect(runSteps([step('a'), step('b'), step('c', true), step('d')], {}, { io })).rejects.toThrow('c failed');
    expect(log).toEqual(['run a', 'run b', 'run c', 'undo c', 'undo b', 'undo a']);
  });

  it('stops between steps when interrupted and rolls back', async () => {
    const { log, step } = recorder();
    const abort = new AbortController();
    const first: Step<object> = { ...step('a'), run: async () => abort.abort() };
    await expect(
      runSteps([first, step('b')], {}, { io: new RecordingIoHost(), signal: abort.signal }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(log).toEqual(['undo a']);
  });

  it('reports a rollback failure as a warning and keeps the original error', async () => {
    const io = new RecordingIoHost();
    const bad: Step<object> = {
      id: 'a',
      title: 'a',
      run: async () => undefined,
      rollback: async () => {
        throw new Error('still in use');
      },
    };
    const failing: Step<object> = { id: 'b', title: 'b', run: async () => Promise.reject(new Error('original')) };
    await expect(runSteps([bad, failing], {}, { io })).rejects.toThrow('original');
    expect(io.messages.some((m) => m.level === 'warn' && m.message.includes('still in use'))).toBe(true);
  });
});
