/**
 * The cloud API misbehaves: the library's EC2 client talks to LocalStack through a fault proxy
 * that answers a seeded 20% of calls with throttling (RequestLimitExceeded), 500s, or holds and
 * drops them (half of those after LocalStack did the work). `start` (cloud side only, no SSH),
 * `resize` and `terminate` must each succeed or roll back — never a half-made cluster that
 * `terminate` cannot remove — and an independent boto3 check must then find nothing left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeCluster } from '../../../src/cluster/resize.js';
import { StarclusterError } from '../../../src/errors.js';
import { startFaultProxy, type FaultProxy } from '../../_helpers/fault-proxy.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from './_cloud.js';

const SEEDS = [11, 23, 47];
const RATES = { throttle: 0.08, serverError: 0.07, timeout: 0.05 };

let endpoint: string;
let fx: Ec2Fixture;

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  fx = await ec2Fixture(endpoint, { size: 3 });
}, 300_000);

afterAll(async () => {
  await fx?.cleanup();
});

/** What each operation did under faults: `ok`, or the error code it failed with (after rollback). */
type Outcome = 'ok' | string;

async function attempt(what: () => Promise<unknown>): Promise<Outcome> {
  try {
    await what();
    return 'ok';
  } catch (error) {
    // Under faults an operation may fail, but only with one of our errors (a clear code and message).
    expect(StarclusterError.is(error), `not a StarclusterError: ${String(error)}`).toBe(true);
    return (error as StarclusterError).code;
  }
}

describe('the EC2 API misbehaves (20% throttles, 500s and dropped calls)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: start, resize and terminate succeed or roll back; nothing leaks`, async () => {
      const name = clusterName('flt');
      let leaked: number | undefined;
      const proxy: FaultProxy = await startFaultProxy({ target: endpoint, seed, rates: RATES, holdMs: 1000 });
      const outcomes: Record<string, Outcome> = {};
      const io = new RecordingIoHost();
      try {
        const provider = await fx.provider(proxy.url);
        const direct = await fx.provider();
        outcomes.start = await attempt(() => fx.start(name, { io, provider }));
        const afterStart = await direct.listNodes(name);
        if (outcomes.start === 'ok') {
          // Started: exactly the template's nodes, no duplicates from retried RunInstances.
          expect(afterStart.map((n) => n.alias).sort()).toEqual(['master', 'node001', 'node002']);
          outcomes.resize = await attempt(() =>
            resizeCluster({ name, size: 4, config: fx.config, io, provider, skipHooks: true }),
          );
          const aliases = (await direct.listNodes(name)).map((n) => n.alias).sort();
          // Grown to 4, or rolled back to the 3 it had: never a duplicate alias or a stray node.
          expect([
            ['master', 'node001', 'node002'].join(),
            ['master', 'node001', 'node002', 'node003'].join(),
          ]).toContain(aliases.join());
        } else {
          // Rolled back: no instance of this run is left running.
          const report = await checkZeroLeak(name, { endpoint, fleet: false });
          expect(report.instances, describeLeaks(report)).toEqual([]);
        }
        // Terminate under the same faults; it is idempotent, so an interrupted one is finished by a second.
        outcomes.terminate = await attempt(() => fx.terminate(name, { io, provider }));
        if (outcomes.terminate !== 'ok')
          outcomes.terminateAgain = await attempt(() => fx.terminate(name, { io, provider }));
        expect([outcomes.terminate, outcomes.terminateAgain]).toContain('ok');
        const report = await checkZeroLeak(name, { endpoint, fleet: false });
        leaked = leakCount(report);
        expect(leaked, describeLeaks(report)).toBe(0);
        expect(proxy.faults()).toBeGreaterThan(0);
      } finally {
        await proxy.close();
        const c = proxy.counters;
        console.log(
          `api-faults seed ${seed}: ${c.calls} calls, ${proxy.faults()} faults injected ` +
            `(${c.throttle} throttled, ${c.serverError} 500s, ${c.timeout} dropped, ${c.timeoutAfterForward} after LocalStack did the work, ${c.replayedByClientToken} RunInstances replayed by ClientToken; ` +
            `by action ${JSON.stringify(c.byAction)}); outcomes ${JSON.stringify(outcomes)}; resources leaked: ${leaked ?? 'not checked'}`,
        );
        // Whatever happened, leave LocalStack clean for the next test (no faults now).
        if (leaked !== 0) await fx.terminate(name, { io }).catch(() => undefined);
      }
    }, 600_000);
  }

  // Heavy weather: half the calls of `start` fault and the SDK may try each call only twice, so
  // start does fail part-way and its rollback meets faults too. Whatever it leaves must carry the
  // cluster's tags: `terminate` (under the 20% faults above, at most 3 runs) must remove it all.
  for (const seed of [5, 6, 7, 8]) {
    it(`seed ${seed}, start under 50% faults, 2 attempts per call: it rolls back; terminate removes the rest`, async () => {
      const name = clusterName('fltx');
      let leaked: number | undefined;
      const proxy = await startFaultProxy({
        target: endpoint,
        seed,
        rates: { throttle: 0.2, serverError: 0.2, timeout: 0.1 },
        holdMs: 500,
      });
      const outcomes: Outcome[] = [];
      const proxies: FaultProxy[] = [proxy];
      const io = new RecordingIoHost();
      try {
        const provider = await fx.provider(proxy.url, 2);
        const start = await attempt(() => fx.start(name, { io, provider }));
        outcomes.push(`start:${start}`);
        const nodes = await (await fx.provider()).listNodes(name);
        const aliases = nodes.map((n) => n.alias).sort();
        // Complete, or rolled back; a rollback that itself met faults may leave some nodes, but
        // never duplicates, and whatever is left carries the cluster tag (terminate finds it).
        expect(new Set(aliases).size, `duplicate aliases: ${aliases.join()}`).toBe(aliases.length);
        if (start === 'ok') expect(aliases).toEqual(['master', 'node001', 'node002']);
        const mild = await startFaultProxy({ target: endpoint, seed: seed + 1000, rates: RATES, holdMs: 500 });
        proxies.push(mild);
        const mildProvider = await fx.provider(mild.url);
        let done = false;
        for (let i = 0; i < 3 && !done; i++) {
          const t = await attempt(() => fx.terminate(name, { io, provider: mildProvider }));
          outcomes.push(`terminate:${t}`);
          done = t === 'ok';
        }
        expect(done, `terminate never finished: ${outcomes.join(', ')}`).toBe(true);
        const report = await checkZeroLeak(name, { endpoint, fleet: false });
        leaked = leakCount(report);
        expect(leaked, describeLeaks(report)).toBe(0);
      } finally {
        for (const p of proxies) await p.close();
        const c = proxy.counters;
        console.log(
          `api-faults heavy seed ${seed}: start saw ${c.calls} calls, ${proxy.faults()} faults injected ` +
            `(${c.throttle} throttled, ${c.serverError} 500s, ${c.timeout} dropped, ${c.timeoutAfterForward} after LocalStack did the work); ` +
            `terminate saw ${proxies[1]?.faults() ?? 0} faults; ${outcomes.join(', ')}; resources leaked: ${leaked ?? 'not checked'}`,
        );
        if (leaked !== 0) await fx.terminate(name, { io }).catch(() => undefined);
      }
    }, 600_000);
  }
});
