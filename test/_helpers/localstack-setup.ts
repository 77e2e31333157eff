import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Vitest global setup of the `integration` project. LocalStack itself is started lazily by
 * test/_helpers/localstack-env.ts (a setup file, so it runs only when an integration test file
 * runs); this records which LocalStack (if any) was running before the run, and at teardown
 * stops LocalStack only if it was started during this run. One that was already running is left
 * alone (set STARCLUSTER_KEEP_LOCALSTACK=1 to keep the one this run started, too). The test fleet,
 * whose reconciler watches that LocalStack, is stopped with it.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const PID_FILE = join(ROOT, 'localstack', '.state', 'localstack.pid');

function runningPid(): number | undefined {
  if (!existsSync(PID_FILE)) return undefined;
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export default function setup(): () => Promise<void> {
  const before = runningPid();
  return async () => {
    const now = runningPid();
    if (now === undefined || now === before || process.env.STARCLUSTER_KEEP_LOCALSTACK) return;
    // The fleet's reconciler watches this LocalStack: it goes with it (a later LocalStack is another endpoint).
    await run(join(ROOT, 'localstack', 'fleet'), ['stop'], { timeout: 300_000 }).catch(() => undefined);
    await run(join(ROOT, 'localstack', 'stop.sh'), [], { timeout: 60_000 });
  };
}
