/**
 * Ctrl-C at seeded random moments of `start`: 20 trials abort the AbortSignal given to the
 * library's start operation (cloud side only, no SSH) after a seeded delay spread over a whole
 * start. Whatever moment it lands on, the start either finished or rolled back everything it made,
 * and `terminate` afterwards leaves nothing (checked independently with boto3). Then the CLI:
 * `start -o` gets SIGINT as soon as it prints that a chosen step has begun (so every trial interrupts
 * a start in progress), exits 130, and `terminate -c` leaves nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import { AbortError, StarclusterError } from '../../../src/errors.js';
import { spawnCli } from '../../_helpers/cli.js';
import { seededRandom } from '../../_helpers/fault-proxy.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from './_cloud.js';

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

  // What the CLI prints off a TTY as each step of `start -o` begins (src/cli/cli-io-host.ts renderPlain).
  // Each trial sends SIGINT the moment its step has begun, so every trial lands inside a start in
  // progress: the first step, the security group (made, then rolled back), and the launch (instances
  // made or being made, then terminated by the rollback). runSteps checks the signal after every step,
  // so a SIGINT seen while any step runs ends the start with AbortError (exit 130) however fast the
  // rest of it would have been.
  const SIGINT_WHEN = ['Validating cluster settings', 'Security group', 'Launching instances'];

  it('SIGINT to the CLI as a step of `start -o` begins: exit 130, then `terminate -c` leaves nothing', async () => {
    const results: string[] = [];
    let leaked = 0;
    /** Runs `starcluster ARGS`; with `sigintWhenStarted`, sends SIGINT as that step is seen to begin. */
    const cli = async (args: string[], sigintWhenStarted?: string) => {
      const run = spawnCli([...args, '--config', fx.configPath], { env: fx.env });
      const sent = sigintWhenStarted
        ? run.printed(`- ${sigintWhenStarted}...\n`).then(
            () => (run.kill('SIGINT'), true),
            () => false,
          )
        : Promise.resolve(false);
      const exited = await run.exited;
      return { ...exited, out: run.out(), sent: await sent };
    };
    for (const [trial, when] of SIGINT_WHEN.entries()) {
      const name = clusterName(`sig${trial}`);
      const r = await cli(['start', name, '-o'], when);
      results.push(`at "${when}" → exit ${r.code ?? r.signal}`);
      // The step was seen to begin (so the SIGINT went to a start in progress) and the CLI stopped on it.
      expect(r.sent, `never saw "- ${when}..."\n${r.out}`).toBe(true);
      expect(r.signal, r.out).toBeNull();
      expect(r.code, r.out).toBe(130);
      const t = await cli(['terminate', name, '-c']);
      expect(t.code, t.out).toBe(0);
      const report = await checkZeroLeak(name, { endpoint, fleet: false });
      leaked += leakCount(report);
      expect(leakCount(report), describeLeaks(report)).toBe(0);
    }
    console.log(`CLI SIGINT trials: ${results.join('; ')}; resources leaked: ${leaked}`);
  }, 900_000);
});
