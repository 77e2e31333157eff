import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../../src/cloud/local/index.js';
import type { ClusterContext } from '../../../src/model/context.js';
import { defaultTemplate, emptyConfig } from '../../../src/model/template.js';
import { openShell } from '../../../src/cluster/shell.js';
import { runRepl } from '../../../src/cli/repl.js';
import { startEngines, stopEngines } from '../../../src/deploy/index.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

// `starcluster shell -p CLUSTER` on a real local cluster (controller and engine processes): the REPL
// has the config, the account's EC2 client and a connected engine client, and top-level await works.
const home = await mkdtemp(join(tmpdir(), 'sc-shell-'));
process.env.STARCLUSTER_HOME = home;
const provider = createLocalProvider();
const name = 'shelltest';
let ctx: ClusterContext | undefined;

afterAll(async () => {
  if (ctx) {
    await stopEngines(ctx).catch(() => undefined);
    await provider.terminate(ctx.nodes.map((n) => n.id)).catch(() => undefined);
  }
  await rm(home, { recursive: true, force: true });
});

/** Feeds lines to the REPL, then `.exit`; returns everything it printed. */
async function session(scope: Record<string, unknown>, lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const prompts = (): number => printed.split('starcluster> ').length - 1;
  // One line at a time: the next goes in when the REPL prompts again (its answer, awaited, is out).
  const prompted = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (prompts() < n) return;
        output.off('data', check);
        resolve();
      };
      output.on('data', check);
      check();
    });
  const done = runRepl({ scope, banner: 'banner', input, output, terminal: false });
  for (const [i, line] of lines.entries()) {
    await prompted(i + 1);
    input.write(`${line}\n`);
  }
  await prompted(lines.length + 1);
  input.end('.exit\n');
  await done;
  return printed;
}

describe('starcluster shell', () => {
  it('-p CLUSTER: lview/dview/client reach the engines; cfg and ec2 are in scope', async () => {
    const base = { cluster: name, instanceType: 'local', imageId: 'local' };
    await provider.launch({ ...base, role: 'master', aliases: ['master'], clientToken: `${name}-m` });
    await provider.launch({ ...base, role: 'node', aliases: ['node001'], clientToken: `${name}-n` });
    const nodes = await provider.waitRunning([`local-${name}-master`, `local-${name}-node001`]);
    ctx = {
      name,
      template: defaultTemplate({ name, provider: 'local', clusterSize: 2, sharedFs: 'none' }),
      config: emptyConfig(),
      provider,
      io: new RecordingIoHost(),
      stateDir: provider.stateDir(name),
      nodes,
    };
    await startEngines(ctx);

    // The account's EC2 client comes from the EC2 provider (LocalStack here); the engines from the cluster.
    const shell = await openShell({ config: emptyConfig(), cluster: name });
    try {
      expect(shell.names.map((n) => n.name)).toEqual(['cfg', 'provider', 'ec2', 'client', 'dview', 'lview']);
      const printed = await session({ ...shell.scope }, [
        'await client.waitForEngines(1)',
        'await lview.apply((x) => x * 2, 21).get()',
        '(await dview.apply(() => 6 * 7).get()).every((v) => v === 42)',
        'typeof ec2.send + " " + provider.kind + " " + cfg.clusters.size',
        "(await ec2.send(new (await import('@aws-sdk/client-ec2')).DescribeRegionsCommand({}))).Regions.length > 0",
      ]);
      expect(printed).toContain('banner');
      expect(printed).toMatch(/\b42\b/);
      expect(printed).toContain('true');
      expect(printed).toContain("'function ec2 0'");
      expect(printed).not.toMatch(/Uncaught/);
    } finally {
      await shell.close();
    }
  });
});
