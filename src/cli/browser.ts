import { spawn } from 'node:child_process';

export interface BrowserOpen {
  opened: boolean;
  /** Why nothing was opened, or what was run. */
  detail: string;
}

/**
 * Opens files with [global] WEB_BROWSER, as StarCluster opened its plots with it: only for a person
 * at a terminal (never under --json, off a TTY or under CI), detached, so the command ends at once.
 * WEB_BROWSER is a command (`firefox`, `chromium --new-window`); a `%s` in it stands for the file,
 * else the files are appended.
 */
export function openInBrowser(
  browser: string | undefined,
  files: readonly string[],
  options: { interactive: boolean },
): Promise<BrowserOpen> {
  if (!browser) return Promise.resolve({ opened: false, detail: 'no [global] WEB_BROWSER' });
  if (files.length === 0) return Promise.resolve({ opened: false, detail: 'no figures' });
  if (!options.interactive)
    return Promise.resolve({ opened: false, detail: 'not at a terminal (or --json, or CI): figures not opened' });
  const words = browser.trim().split(/\s+/);
  const [command = '', ...rest] = words;
  const args = rest.some((w) => w.includes('%s'))
    ? files.flatMap((f) => rest.map((w) => w.replaceAll('%s', f)))
    : [...rest, ...files];
  return new Promise((resolve) => {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve({
        opened: false,
        detail: `WEB_BROWSER ${command} could not be started (${error.code ?? error.message})`,
      }),
    );
    child.once('spawn', () => {
      child.unref();
      resolve({ opened: true, detail: `opened ${files.length} figure(s) with ${command}` });
    });
  });
}
