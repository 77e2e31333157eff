import { describe, expect, it } from 'vitest';
import { taskFrames } from '../../../src/engines/client/framing.js';
import { TaskExecutor } from '../../../src/engines/engine/executor.js';
import { TaskKind } from '../../../src/engines/protocol/messages.js';

/** The frames of an apply task, as a client sends them. */
const apply = (fn: (...args: never[]) => unknown, ...args: unknown[]) =>
  taskFrames(TaskKind.apply, fn as (...a: never[]) => unknown, args);

/** The guard's entry: a hidden global of the host realm named with this prefix. */
const ENTRY = '__starclusterGuardedTask';
const entryNames = (): string[] => Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith(ENTRY));

describe('TaskExecutor: guarded runs (interruptible, time-limited)', () => {
  it('runs each task in its own executor, and the guard leaves nothing in the namespace', () => {
    const a = new TaskExecutor('test');
    const b = new TaskExecutor('test');
    const guards = { interruptible: true };
    expect(
      a.run(
        1,
        apply((x: number) => x * 2, 21),
        guards,
      ),
    ).toBe(42);
    expect(a.run(2, taskFrames(TaskKind.push, undefined, [{ v: 'a' }]), guards)).toBe(null);
    expect(b.run(1, taskFrames(TaskKind.push, undefined, [{ v: 'b' }]), guards)).toBe(null);
    // each executor's namespace is its own
    expect(a.run(3, taskFrames(TaskKind.pull, undefined, [['v']]), guards)).toEqual(['a']);
    expect(b.run(3, taskFrames(TaskKind.pull, undefined, [['v']]), guards)).toEqual(['b']);
    // the guard's entry is not a name in the namespace (a pull of it fails), nor among its globals
    const [entry] = entryNames();
    expect(entry).toBeDefined();
    expect(() => a.run(4, taskFrames(TaskKind.pull, undefined, [[entry!]]), guards)).toThrow(`${entry} is not defined`);
    expect(
      a.run(
        5,
        apply(() => Object.getOwnPropertyNames(globalThis).some((n) => n.startsWith('__starclusterGuardedTask'))),
        guards,
      ),
    ).toBe(false);
  });

  it('a task that throws throws through the guard; the next task runs', () => {
    const x = new TaskExecutor('test');
    const guards = { interruptible: true };
    expect(() =>
      x.run(
        1,
        apply(() => {
          throw new RangeError('bad');
        }),
        guards,
      ),
    ).toThrow('bad'); // a RangeError of the namespace's realm
    expect(
      x.run(
        2,
        apply(() => 'next'),
        guards,
      ),
    ).toBe('next');
  });

  it('a time limit stops a computing task with TaskTimeLimit; the executor carries on', () => {
    const x = new TaskExecutor('test');
    const spin = (): never => {
      for (;;) {
        /* computes forever */
      }
    };
    let caught: unknown;
    try {
      x.run(1, apply(spin), { limitMs: 50, interruptible: true });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).name).toBe('TaskTimeLimit');
    expect(
      x.run(
        2,
        apply(() => 3),
        { limitMs: 5_000, interruptible: true },
      ),
    ).toBe(3);
    expect(
      x.run(
        3,
        apply(() => 4),
        { interruptible: true },
      ),
    ).toBe(4);
  });
});
