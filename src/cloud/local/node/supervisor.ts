import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, closeSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ChildStatus,
  type DesiredProcess,
  type DesiredState,
  NODE_ENV,
  desiredFile,
  statusFile,
  writeJsonAtomic,
} from './files.js';

/**
 * A local "node": one small process per node of a PROVIDER = local cluster that keeps the
 * node's processes (controller, engines) running as `desired.json` says. A child that crashes is
 * restarted a bounded number of times with a growing delay; a child that exits 0 was told to stop
 * and stays stopped. SIGTERM stops every child (SIGTERM, then SIGKILL after a grace period) and
 * then the supervisor itself. What runs is published in `status.json` (pids included), so
 * starcluster can find and, if this process is gone, still clean up the children.
 */
export interface SupervisorOptions {
  nodeDir: string;
  cluster: string;
  alias: string;
  /** How often desired.json is checked for changes. */
  pollMs?: number;
  /** How long a child has after SIGTERM before SIGKILL. */
  graceMs?: number;
}

interface Child {
  spec: DesiredProcess;
  proc?: ChildProcess;
  status: ChildStatus;
  timer?: NodeJS.Timeout;
  stopping: boolean;
}

export class NodeSupervisor {
  private readonly children = new Map<string, Child>();
  private desiredMtime = -1;
  /** Why the last desired.json could not be used (published in status.json), if it could not. */
  private desiredError?: string;
  private poller?: NodeJS.Timeout;
  private stopped = false;
  private writing = Promise.resolve();

  constructor(private readonly options: SupervisorOptions) {}

  async start(): Promise<void> {
    await this.reconcile();
    await this.publish();
    this.poller = setInterval(() => void this.reconcile(), this.options.pollMs ?? 200);
  }

  /** Stops every child, then resolves. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await Promise.all([...this.children.values()].map((c) => this.stopChild(c)));
    await this.publish();
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const file = desiredFile(this.options.nodeDir);
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.desiredMtime) return;
    const desired = await readDesired(file);
    if (typeof desired === 'string') {
      // Unreadable or half-written: keep what runs and look again at the next poll (the mtime is
      // not recorded), rather than reading it as "run nothing" and stopping every child.
      if (desired !== this.desiredError) {
        this.desiredError = desired;
        await this.publish();
      }
      return;
    }
    this.desiredMtime = mtime;
    this.desiredError = undefined;
    const wanted = new Map(desired.processes.map((p) => [p.name, p]));
    for (const child of this.children.values()) {
      if (!wanted.has(child.spec.name)) void this.stopChild(child).then(() => this.children.delete(child.spec.name));
    }
    for (const spec of wanted.values()) {
      const existing = this.children.get(spec.name);
      if (existing && JSON.stringify(existing.spec) === JSON.stringify(spec)) continue;
      if (existing) await this.stopChild(existing);
      const child: Child = { spec, status: { name: spec.name, state: 'running', restarts: 0 }, stopping: false };
      this.children.set(spec.name, child);
      this.spawnChild(child);
    }
    await this.publish();
  }

  private spawnChild(child: Child): void {
    if (this.stopped || child.stopping) return;
    const [command, ...args] = child.spec.argv;
    if (!command) {
      child.status = { ...child.status, state: 'failed' };
      return;
    }
    const log = openSync(join(this.options.nodeDir, `${child.spec.name}.log`), 'a');
    const proc = spawn(command, args, {
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        ...child.spec.env,
        [NODE_ENV]: `${this.options.cluster}/${this.options.alias}`,
      },
    });
    closeSync(log);
    child.proc = proc;
    child.status = {
      ...child.status,
      pid: proc.pid,
      state: 'running',
      startedAt: new Date().toISOString(),
      exitCode: undefined,
      signal: undefined,
    };
    proc.on('error', () => undefined); // reported through 'exit'
    proc.on('exit', (code, signal) => {
      child.proc = undefined;
      child.status = { ...child.status, pid: undefined, exitCode: code, signal };
      if (child.stopping || this.stopped) {
        child.status.state = 'stopped';
      } else if (code === 0) {
        child.status.state = 'exited';
      } else if (child.status.restarts < (child.spec.maxRestarts ?? 3)) {
        child.status.restarts += 1;
        child.status.state = 'restarting';
        child.timer = setTimeout(() => {
          this.spawnChild(child);
          void this.publish();
        }, 250 * child.status.restarts);
      } else {
        child.status.state = 'failed';
      }
      void this.publish();
    });
  }

  private async stopChild(child: Child): Promise<void> {
    child.stopping = true;
    if (child.timer) clearTimeout(child.timer);
    const proc = child.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      child.status.state = 'stopped';
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const grace = setTimeout(() => proc.kill('SIGKILL'), this.options.graceMs ?? 3000);
    await exited;
    clearTimeout(grace);
  }

  private publish(): Promise<void> {
    const status = {
      supervisorPid: process.pid,
      cluster: this.options.cluster,
      alias: this.options.alias,
      updatedAt: new Date().toISOString(),
      stopped: this.stopped,
      ...(this.desiredError ? { desiredError: this.desiredError } : {}),
      children: [...this.children.values()].map((c) => c.status),
    };
    // Serialised so an older snapshot never overwrites a newer one.
    this.writing = this.writing
      .then(() => writeJsonAtomic(statusFile(this.options.nodeDir), status))
      .catch(() => undefined);
    return this.writing;
  }
}

/** desired.json as a state, or why it cannot be used. A missing file means "run nothing". */
async function readDesired(file: string): Promise<DesiredState | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { processes: [] };
    return `cannot read ${file}: ${(error as Error).message}`;
  }
  try {
    const value = JSON.parse(text) as Partial<DesiredState> | null;
    if (!value || !Array.isArray(value.processes)) return `${file} has no "processes" list`;
    return value as DesiredState;
  } catch (error) {
    return `${file} is not JSON: ${(error as Error).message}`;
  }
}
