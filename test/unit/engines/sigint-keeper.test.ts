import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { ROOT } from './helpers.js';

const cleanup = useCleanup();

describe('the SIGINT keeper', () => {
  it('steps aside for a computing task whose watchdog is older than its own: the next SIGINT stops the task', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}test/_fixtures/engines/keeper-order.ts`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanup.push(() => child.kill('SIGKILL'));
    const lines: string[] = [];
    let signals: NodeJS.Timeout | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      lines.push(line);
      // the heart signals a task still computing every 50 ms (heart-worker.ts RESIGNAL_MS); so does this
      if (line === 'keeper registered') signals = setInterval(() => child.kill('SIGINT'), 50);
      else break;
    }
    clearInterval(signals);
    expect(lines).toEqual(['keeper registered', 'ERR_SCRIPT_EXECUTION_INTERRUPTED']);
  }, 60_000);
});
