import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The files through which a local node's supervisor and starcluster talk. The supervisor owns
 * `status.json`; starcluster owns `desired.json`. Both are replaced atomically (write + rename).
 */
export const DESIRED_FILE = 'desired.json';
export const STATUS_FILE = 'status.json';
/** Environment marker on every supervised child: `STARCLUSTER_LOCAL_NODE=<cluster>/<alias>`. */
export const NODE_ENV = 'STARCLUSTER_LOCAL_NODE';

export interface DesiredProcess {
  /** Unique on the node: `controller`, `engine-1`... (also the log file's name). */
  name: string;
  argv: string[];
  env?: Record<string, string>;
  /** Restarts after a crash (non-zero exit or signal) before giving up; default 3. */
  maxRestarts?: number;
}

export interface DesiredState {
  processes: DesiredProcess[];
}

export type ChildState = 'running' | 'restarting' | 'exited' | 'failed' | 'stopped';

export interface ChildStatus {
  name: string;
  pid?: number;
  state: ChildState;
  restarts: number;
  exitCode?: number | null;
  signal?: string | null;
  startedAt?: string;
}

export interface NodeStatus {
  supervisorPid: number;
  cluster: string;
  alias: string;
  updatedAt: string;
  /** Set while desired.json cannot be read or parsed; the children keep running as they were. */
  desiredError?: string;
  children: ChildStatus[];
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writeJsonAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  await rename(tmp, file);
}

export const desiredFile = (nodeDir: string): string => join(nodeDir, DESIRED_FILE);
export const statusFile = (nodeDir: string): string => join(nodeDir, STATUS_FILE);
