/**
 * Ctrl-C at seeded random moments of `start`: 20 trials abort the AbortSignal given to the
 * library's start operation (cloud side only, no SSH) after a seeded delay spread over a whole
 * start. Whatever moment it lands on, the start either finished or rolled back everything it made,
 * and `terminate` afterwards leaves nothing (checked independently with boto3).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import { AbortError, StarclusterError } from '../../../src/errors.js';
import { seededRandom } from '../../_helpers/fault-proxy.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { ROOT, clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from './_cloud.js';

const TRIALS = 20;
const SEED = 2026;

let endpoint: string;
let fx: Ec2Fixture;

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  fx = await ec2Fixture(endpoint, { size: 3 });
}, 300_000);

afterAll(async () => {
  await fx?.cleanup();
});

describe('Ctrl-C during start', () => {
  it(`${TRIALS} seeded interrupts of start: terminate afterwards leaves nothing`, async () => {
    const provider = await fx.provider();
    const startOnce = (name: string, signal?: AbortSignal) =>
      startCluster({
        name,
        template: fx.template,
        config: fx.config,
        io: new RecordingIoHost(),
        provider,
        skipSetup: true,
        skipEngines: true,
        stateDir: `${fx.dir}/state-${name}`,
        ...(signal ? { signal } : {}),
      });
    // Uninterrupted starts set the span the interrupts are spread over (plus 20% past its end):
    // the first warms up the SDK and module loading, the second is measured.
    let span = 0;
    for (const label of ['intw', 'intp']) {
      const probe = clusterName(label);
      const t0 = performance.now();
      await startOnce(probe);
      span = (performance.now() - t0) * 1.2;
      await terminateCluster({ name: probe, io: new RecordingIoHost(), provider, confirm: true, skipHooks: true });
    }

    const random = seededRandom(SEED);
    const tally = { interrupted: 0, completed: 0, leaked: 0, leftByRollback: 0, trials: 0 };
    const failures: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const name = clusterName(`int${trial}`);
      const delay = Math.round(random() * span);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), delay);
      let outcome = 'completed';
      try {
        await startOnce(name, controller.signal);
      } catch (error) {
        // An interrupt surfaces as our AbortError (exit 130), never as a raw SDK error.
        if (!(error instanceof AbortError))
          failures.push(`trial ${trial} (+${delay} ms): ${StarclusterError.is(error) ? error.code : String(error)}`);
        outcome = 'interrupted';
      } finally {
        clearTimeout(timer);
      }
      tally[outcome === 'completed' ? 'completed' : 'interrupted'] += 1;
      if (outcome === 'interrupted') {
        // DESIGN.md: a Ctrl-C rolls back what this run made, before terminate is even asked.
        const left = await checkZeroLeak(name, { endpoint, fleet: false });
        tally.leftByRollback += leakCount(left);
        if (leakCount(left)) failures.push(`trial ${trial} (+${delay} ms) rollback left: ${describeLeaks(left)}`);
      }
      await terminateCluster({ name, io: new RecordingIoHost(), provider, confirm: true, skipHooks: true });
      const report = await checkZeroLeak(name, { endpoint, fleet: false });
      tally.leaked += leakCount(report);
      tally.trials += 1;
      if (leakCount(report)) failures.push(`trial ${trial} (+${delay} ms): ${describeLeaks(report)}`);
    }
    console.log(
      `interrupt trials: ${tally.trials} run (seed ${SEED}, delays over ${Math.round(span)} ms), ` +
        `${tally.interrupted} interrupted, ${tally.completed} completed first; left by rollback alone: ${tally.leftByRollback}; ` +
        `resources leaked after terminate: ${tally.leaked}`,
    );
    expect(failures).toEqual([]);
    expect(tally.trials).toBe(TRIALS);
    // The delays must actually land inside starts, or the test proves nothing.
    expect(tally.interrupted).toBeGreaterThan(TRIALS / 2);
  }, 900_000);

  it('SIGINT to the CLI at seeded moments of `start -o`: exit 130 (or done), then `terminate -c` leaves nothing', async () => {
    const random = seededRandom(SEED + 1);
    const results: string[] = [];
    let leaked = 0;
    const cli = (args: string[], sigintAfterMs?: number) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, 'bin', 'dev.js'), ...args, '--config', fx.configPath], {
          env: { ...fx.env, CI: 'true' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const timers: NodeJS.Timeout[] = [];
        if (sigintAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGINT'), sigintAfterMs));
        // Bounded: a CLI that ignores Ctrl-C for 3 minutes fails the test instead of hanging it.
        timers.push(setTimeout(() => child.kill('SIGKILL'), 180_000));
        child.on('close', (code, signal) => {
          for (const t of timers) clearTimeout(t);
          resolve({ code, signal, out });
        });
      });
    for (let trial = 0; trial < 3; trial++) {
      const name = clusterName(`sig${trial}`);
      // bin/dev.js needs a few seconds to load (tsx); spread the SIGINT over load + the start itself.
      const delay = 1500 + Math.round(random() * 4000);
      const r = await cli(['start', name, '-o'], delay);
      results.push(`+${delay} ms → exit ${r.code ?? r.signal}`);
      expect(r.signal, r.out).toBeNull();
      expect([0, 130], r.out).toContain(r.code);
      const t = await cli(['terminate', name, '-c']);
      expect(t.code, t.out).toBe(0);
      const report = await checkZeroLeak(name, { endpoint, fleet: false });
      leaked += leakCount(report);
      expect(leakCount(report), describeLeaks(report)).toBe(0);
    }
    console.log(`CLI SIGINT trials: ${results.join('; ')}; resources leaked: ${leaked}`);
  }, 900_000);
});
