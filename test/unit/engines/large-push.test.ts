import { createHash } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { processCluster } from './helpers.js';

/**
 * A big push never kills an engine: 1 GiB (a Float64Array of 2^27 values) pushed to 2 engine
 * processes — by the bulk lane, and through the controller with lanes off — ends with both engines
 * alive, never declared dead (the default heartbeat: every 500 ms, dead after 3 missed), and the data
 * intact by checksum (SHA-256 of the array's bytes, here and on each engine). 1 GiB is what the issue asks; this 24 GiB machine holds it with the other work running
 * (the test process keeps the array and, with lanes off, the controller's in-flight copies).
 */
const cleanup = useCleanup();

const BYTES = 1 << 30;

type Crypto = typeof NodeCrypto;

const sha256 = (a: Float64Array): string =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

describe.each(['on', 'off'] as const)('a 1 GiB push to 2 engine processes (lanes %s)', (lanes) => {
  it('both engines stay alive and registered, and hold the data intact', { timeout: 600_000 }, async () => {
    // made before the cluster starts: the controller runs in this process, and seconds of filling
    // would stop it answering the engines' hearts (engines give up on a silent controller)
    const big = new Float64Array(BYTES / 8);
    for (let i = 0; i < big.length; i++) big[i] = i * 1.000001;
    const want = sha256(big);
    const { client, controller, engines } = await processCluster(cleanup, 2, lanes, 500);
    const ids = client.ids;
    const dead: number[] = [];
    client.onEngines(() => dead.push(...ids.filter((id) => !client.ids.includes(id))));

    await client.directView().push({ big });

    const got = await client.directView().apply(() => {
      const ns = globalThis as unknown as { big: Float64Array; require: (m: string) => Crypto };
      const a = ns.big;
      return ns
        .require('node:crypto')
        .createHash('sha256')
        .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
        .digest('hex');
    });
    expect(got).toEqual([want, want]);
    expect(dead).toEqual([]);
    expect(controller.engines().map((e) => e.id)).toEqual(ids);
    for (const e of engines) expect(e.child.exitCode).toBeNull();
  });
});
