import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Polls `check` until it is truthy (or throws after `timeoutMs`): waits for events, never asserts on time. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a real engine process (src/engines/engine/main.ts under tsx); resolves with it once registered. */
export async function spawnEngine(controller: string, keysDir: string): Promise<{ child: ChildProcess; id: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `${ROOT}src/engines/engine/main.ts`, '--controller', controller, '--keys', keysDir],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    if (line.startsWith('{')) return { child, id: (JSON.parse(line) as { engine: number }).engine };
  }
  throw new Error('engine process exited before registering');
}

/** Runs sequential applies until one of them bypasses the controller (the lane is up), or fails. */
export async function untilLaned(run: () => PromiseLike<unknown>, submitted: () => number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const before = submitted();
    await run();
    if (submitted() === before) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no task took the lane');
}
