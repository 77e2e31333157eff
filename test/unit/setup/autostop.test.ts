/**
 * The node-side check of MAX_LIFETIME and IDLE_SHUTDOWN, run here with sh as a node runs it, with
 * stand-ins for who, ss, squeue and pgrep (first on PATH) and for the power-off command: it writes
 * a file instead of powering anything off.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTOSTOP_SCRIPT, autostopConfig, autostopSettingsFor } from '../../../src/setup/autostop.js';

const run = promisify(execFile);
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sc-autostop-'));
  writeFileSync(join(dir, 'autostop'), AUTOSTOP_SCRIPT, { mode: 0o755 });
  stub('who', '');
  stub('ss', '');
  stub('squeue', '');
  stub('pgrep', '');
  stub('logger', '');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function stub(name: string, output: string): void {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${output ? `echo '${output}'` : 'exit 0'}\n`);
  chmodSync(file, 0o755);
}

/** Runs the check once with these settings; true when it powered the node off. */
async function check(settings: Parameters<typeof autostopConfig>[0]): Promise<boolean> {
  const conf = join(dir, 'autostop.conf');
  const marker = join(dir, 'powered-off');
  writeFileSync(conf, autostopConfig({ ...settings, poweroff: `touch '${marker}'`, stateDir: join(dir, 'state') }));
  await run('sh', [join(dir, 'autostop'), conf], { env: { PATH: `${dir}:/usr/bin:/bin` } });
  return existsSync(marker);
}

const reason = () => readFileSync(join(dir, 'state', 'reason'), 'utf8').trim();
const now = () => Date.now() / 1000;

describe('autostop (MAX_LIFETIME, IDLE_SHUTDOWN) on a node', () => {
  it('powers off once MAX_LIFETIME has passed since launch, not before', async () => {
    expect(await check({ role: 'node', clusterUser: 'nobody', deadline: now() + 3600 })).toBe(false);
    expect(await check({ role: 'node', clusterUser: 'nobody', deadline: now() - 1 })).toBe(true);
    expect(reason()).toBe('MAX_LIFETIME reached');
  });

  it('powers off an idle node after IDLE_SHUTDOWN (the first check only marks the start)', async () => {
    const idle = { role: 'node' as const, clusterUser: 'nobody', idleSeconds: 0 };
    expect(await check(idle)).toBe(false);
    expect(await check(idle)).toBe(true);
    expect(reason()).toMatch(/^idle for 0 min \(IDLE_SHUTDOWN\)$/);
  });

  it('keeps a node with a login session, an SSH connection or a Slurm job', async () => {
    const idle = { role: 'master' as const, clusterUser: 'nobody', idleSeconds: 0 };
    for (const [cmd, out] of [
      ['who', 'sgeadmin pts/0 2026-12-05 02:00'],
      ['ss', 'ESTAB 0 0 10.0.0.5:22 203.0.113.7:50000'],
      ['squeue', '42 debug job sgeadmin R 0:10 1 node001'],
    ] as const) {
      stub(cmd, out);
      expect(await check(idle), cmd).toBe(false);
      expect(await check(idle), cmd).toBe(false);
      stub(cmd, '');
    }
    expect(await check(idle)).toBe(true);
  });

  it('takes the deadline from the launch time EC2 recorded', () => {
    const launchTime = new Date('2026-12-05T00:00:00Z');
    const s = autostopSettingsFor(
      { maxLifetime: 90, idleShutdown: 15, clusterUser: 'sgeadmin' },
      { role: 'node', launchTime },
    );
    expect(s).toEqual({
      deadline: launchTime.getTime() / 1000 + 5400,
      idleSeconds: 900,
      role: 'node',
      clusterUser: 'sgeadmin',
    });
    expect(autostopConfig(s)).toBe(
      `DEADLINE=${launchTime.getTime() / 1000 + 5400}\nIDLE_SECONDS=900\nROLE=node\nCLUSTER_USER=sgeadmin\nPOWEROFF='shutdown -h now'\n`,
    );
  });
});
