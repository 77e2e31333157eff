import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

/**
 * Vitest global setup of the `integration` project: starts LocalStack with localstack/start.sh
 * (installing it on first use) and hands its endpoint, fake credentials and a region to the
 * tests through the environment (and `inject('localstackEndpoint')`). LocalStack is stopped at
 * teardown only if this setup started it; one that was already running is left alone.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const PID_FILE = join(ROOT, 'localstack', '.state', 'localstack.pid');

declare module 'vitest' {
  export interface ProvidedContext {
    localstackEndpoint: string;
  }
}

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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const before = runningPid();
  const { stdout } = await run(join(ROOT, 'localstack', 'start.sh'), [], {
    timeout: 1_200_000,
    maxBuffer: 16 << 20,
  });
  const endpoint = stdout.trim().split('\n').pop() ?? '';
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint))
    throw new Error(`localstack/start.sh did not print an endpoint: ${stdout}`);
  const startedHere = before === undefined || before !== runningPid();
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_DEFAULT_REGION ??= process.env.AWS_REGION;
  project.provide('localstackEndpoint', endpoint);
  return async () => {
    if (!startedHere || process.env.STARCLUSTER_KEEP_LOCALSTACK) return;
    await run(join(ROOT, 'localstack', 'stop.sh'), [], { timeout: 60_000 });
  };
}
