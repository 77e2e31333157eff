import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openInBrowser } from '../../../src/cli/browser.js';

/** A stand-in browser: a script that writes the arguments it was given to a file. */
function fakeBrowser(): { command: string; seen: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sc-browser-'));
  const seen = join(dir, 'seen');
  const command = join(dir, 'browser');
  writeFileSync(command, `#!/bin/sh\nprintf '%s\\n' "$@" > ${seen}.tmp && mv ${seen}.tmp ${seen}\n`, { mode: 0o755 });
  return { command, seen };
}

/** Waits for the detached browser to have written its file (it runs on its own). */
async function written(path: string): Promise<string> {
  const { setTimeout: sleep } = await import('node:timers/promises');
  while (!existsSync(path)) await sleep(20);
  return readFileSync(path, 'utf8');
}

describe('WEB_BROWSER', () => {
  it('opens the figures with the configured command, %s standing for each file', async () => {
    const { command, seen } = fakeBrowser();
    const opened = await openInBrowser(`${command} --new-window %s`, ['/out/a.svg', '/out/b.svg'], {
      interactive: true,
    });
    expect(opened).toEqual({ opened: true, detail: `opened 2 figure(s) with ${command}` });
    expect(await written(seen)).toBe('--new-window\n/out/a.svg\n--new-window\n/out/b.svg\n');
  });

  it('never opens anything off a terminal, under --json or CI, and says why a browser did not start', async () => {
    const { command, seen } = fakeBrowser();
    expect(await openInBrowser(command, ['/out/a.svg'], { interactive: false })).toEqual({
      opened: false,
      detail: 'not at a terminal (or --json, or CI): figures not opened',
    });
    expect(existsSync(seen)).toBe(false);
    expect(await openInBrowser(undefined, ['/out/a.svg'], { interactive: true })).toMatchObject({ opened: false });
    expect(await openInBrowser('/nonexistent/browser', ['/out/a.svg'], { interactive: true })).toEqual({
      opened: false,
      detail: 'WEB_BROWSER /nonexistent/browser could not be started (ENOENT)',
    });
  });
});
