/**
 * Engine and controller faults on a local cluster (real controller and engine processes under
 * their supervisors, no fakes):
 * - an engine SIGKILLed in the middle of the pi job: the job completes with the exact sample count
 *   and exactly the `inside` count of an undisturbed run of the same (samples, seed, tasks);
 * - the controller SIGKILLed mid-job: its supervisor restarts it on the same ports, the engines
 *   re-register, the client sees the new epoch and resends its pending tasks (and its modules): the
 *   job completes with the undisturbed `inside` count;
 * - the controller becomes unreachable (SIGSTOP: alive, but silent, as behind a dead link): a
 *   running job fails with a clear ControllerLost message within the client's timeout, and a new
 *   client fails with ControllerUnreachable within its connect timeout — neither hangs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider, readNodeStatus } from '../../../src/cloud/local/index.js';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import { getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { Client, loadPeerKeys, KEY_FILES } from '../../../src/engines/index.js';
import { readEngineState } from '../../../src/deploy/index.js';
import { StarclusterError } from '../../../src/errors.js';
import { runJob } from '../../../src/jobs/index.js';
import type { PiSummary } from '../../../src/science/pi-stats.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PI = join(ROOT, 'jobs/pi.ts');
// vitest runs each file in its own process: this STARCLUSTER_HOME is this file's alone.
const home = await mkdtemp(join(tmpdir(), 'sc-engfaults-'));
process.env.STARCLUSTER_HOME = home;
const env = { ...process.env, STARCLUSTER_HOME: home };
const provider = createLocalProvider({ env });
const NAME = 'engfaults';
const stateDir = join(home, 'clusters', NAME);
let config: StarclusterConfig;
let template: ClusterTemplate;
const stopped: number[] = [];

beforeAll(async () => {
  const path = join(home, 'config');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(
    path,
    '[global]\nDEFAULT_TEMPLATE = loc\n[cluster loc]\nPROVIDER = local\nCLUSTER_SIZE = 2\nENGINES_PER_NODE = 2\nSHARED_FS = none\n',
  );
  config = await loadConfig({ path, env });
  template = getClusterTemplate(config, 'loc');
  await startCluster({ name: NAME, template, config, io: new RecordingIoHost(), provider, skipSetup: true, stateDir });
}, 180_000);

afterAll(async () => {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  await terminateCluster({ name: NAME, config, io: new RecordingIoHost(), provider, confirm: true, stateDir }).catch(
    () => undefined,
  );
  await rm(home, { recursive: true, force: true });
}, 120_000);

const PARAMS = { samples: '2000000000', seed: '7', tasks: '40' };

/** The pi result of an undisturbed run of PARAMS (run once, on first use). */
let reference: Promise<PiSummary> | undefined;
function undisturbed(): Promise<PiSummary> {
  reference ??= runJob({ file: PI, target: { cluster: NAME }, params: PARAMS, io: new RecordingIoHost(), env }).then(
    (r) => r.result as PiSummary,
  );
  return reference;
}

/** Resolves once the job has finished at least `n` tasks (bounded: 60 s). */
async function tasksDone(io: RecordingIoHost, n: number): Promise<void> {
  for (let i = 0; i < 2400; i++) {
    if (io.events.some((e) => e.id.endsWith(':tasks') && (e.current ?? 0) >= n)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the job never reached ${n} finished tasks`);
}

describe('engine and controller faults (local cluster, 2 nodes × 2 engines)', () => {
  it('pi completes with the exact count when an engine is SIGKILLed mid-job', async () => {
    const ref = await undisturbed();
    expect(ref.samples).toBe(2_000_000_000);

    const io = new RecordingIoHost();
    const running = runJob({ file: PI, target: { cluster: NAME }, params: PARAMS, io, env });
    await tasksDone(io, 2);
    const status = await readNodeStatus(stateDir, 'node001');
    const pid = status?.children.find((c) => c.name === 'engine-1')?.pid;
    expect(pid, 'node001 engine-1 pid').toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    const result = await running;
    const got = result.result as PiSummary;
    console.log(
      `engine killed mid-job: pid ${pid}; ${got.tasks} tasks, samples ${got.samples} (want 2000000000), ` +
        `inside ${got.inside} (undisturbed run: ${ref.inside})`,
    );
    expect(got.samples).toBe(2_000_000_000);
    expect(got.tasks).toBe(40);
    expect(got.inside).toBe(ref.inside);
  }, 300_000);

  it('the controller SIGKILLed mid-job: its supervisor restarts it, the client resends, pi stays exact', async () => {
    const ref = await undisturbed();
    const master = await readNodeStatus(stateDir, 'master');
    const before = master?.children.find((c) => c.name === 'controller')?.pid;
    expect(before, 'controller pid').toBeGreaterThan(0);
    const io = new RecordingIoHost();
    const running = runJob({ file: PI, target: { cluster: NAME }, params: PARAMS, io, env });
    await tasksDone(io, 2);
    process.kill(before!, 'SIGKILL');
    const result = await running;
    const got = result.result as PiSummary;
    const after = (await readNodeStatus(stateDir, 'master'))?.children.find((c) => c.name === 'controller')?.pid;
    console.log(
      `controller killed mid-job: pid ${before} → restarted as ${after}; ${got.tasks} tasks, samples ${got.samples} ` +
        `(want 2000000000), inside ${got.inside} (undisturbed run: ${ref.inside})`,
    );
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    expect(got.samples).toBe(2_000_000_000);
    expect(got.tasks).toBe(40);
    expect(got.inside).toBe(ref.inside);
    expect(result.enginesLost).toEqual([]); // the engines re-registered with their ids
    expect(io.messages.find((m) => m.code === 'SC_RUN_W0002')?.message).toMatch(/^the controller restarted once/);
  }, 300_000);

  it('the controller becomes unreachable: the running job and a new client fail clearly, never hang', async () => {
    const state = await readEngineState(stateDir);
    expect(state).toBeDefined();
    const io = new RecordingIoHost();
    const running = runJob({
      file: PI,
      target: { cluster: NAME },
      params: { ...PARAMS, samples: '40000000000' },
      io,
      env,
    });
    await tasksDone(io, 1);
    const master = await readNodeStatus(stateDir, 'master');
    const controllerPid = master?.children.find((c) => c.name === 'controller')?.pid;
    expect(controllerPid, 'controller pid').toBeGreaterThan(0);
    // Frozen, not dead: the supervisor does not restart it, sockets stay open, nothing answers.
    process.kill(controllerPid!, 'SIGSTOP');
    stopped.push(controllerPid!);

    // A watchdog far past the client's own timeouts (15 s lost-after, 10 s connect): a hang fails here.
    const watchdog = <T>(p: Promise<T>, ms: number) =>
      Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms).unref())]);
    const outcome = await watchdog(
      running.then(
        () => 'completed' as const,
        (e: unknown) => e,
      ),
      90_000,
    );
    expect(outcome).not.toBe('hung');
    expect(outcome).not.toBe('completed');
    expect(StarclusterError.is(outcome), String(outcome)).toBe(true);
    const err = outcome as StarclusterError;
    console.log(`controller frozen mid-job: ${err.code}: ${err.message}`);
    // Today it surfaces as the tasks' composite failure whose first cause is the lost controller.
    expect(['ControllerLost', 'CompositeTaskError']).toContain(err.code);
    expect(err.message).toMatch(/no word from the controller at tcp:\/\/127\.0\.0\.1:\d+/);

    const keys = await loadPeerKeys(join(stateDir, KEY_FILES.client));
    const connect = await watchdog(
      Client.connect({ endpoint: `tcp://${state!.host}:${state!.clientPort}`, keys, timeoutMs: 2000 }).then(
        async (c) => {
          await c.close();
          return 'connected' as const;
        },
        (e: unknown) => e,
      ),
      60_000,
    );
    expect(connect).not.toBe('hung');
    expect(StarclusterError.is(connect), String(connect)).toBe(true);
    console.log(
      `new client to the frozen controller: ${(connect as StarclusterError).code}: ${(connect as StarclusterError).message}`,
    );
    expect((connect as StarclusterError).code).toBe('ControllerUnreachable');
    expect((connect as StarclusterError).message).toMatch(/within 2000 ms/);
  }, 300_000);
});
