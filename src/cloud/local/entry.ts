import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * How to start one of starcluster's own process entry points (`.../main.ts`) as a child process,
 * whether we run from compiled dist/ (`node file.js`) or from TypeScript sources under tsx or
 * vitest (`node --import <tsx> file.ts`).
 *
 * `moduleUrl` is the URL of the entry module with a `.js` extension, as a relative import would
 * name it, e.g. `new URL('./node/main.js', import.meta.url)`.
 */
export function nodeEntryCommand(moduleUrl: URL, extraNodeArgs: string[] = []): string[] {
  const js = fileURLToPath(moduleUrl);
  if (existsSync(js)) return [process.execPath, ...extraNodeArgs, js];
  const ts = js.replace(/\.js$/, '.ts');
  if (!existsSync(ts)) throw new Error(`entry point ${js} is missing: run \`npm run build\``);
  return [process.execPath, '--import', import.meta.resolve('tsx'), ...extraNodeArgs, ts];
}

/** True when `pid` is a live process (signal 0 reaches it). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours, which counts as not ours below anyway.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `pid` is alive and its command line contains every marker, so a recycled pid that
 * now belongs to some other program is never signalled. Where /proc is missing, liveness is all
 * we can check.
 */
export async function isOurProcess(pid: number | undefined, markers: readonly string[]): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const proc = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    const argv = (await readFile(proc, 'utf8')).split('\0');
    return markers.every((m) => argv.includes(m));
  } catch {
    return false;
  }
}

/** True when `pid` is alive and its environment holds `KEY=value` (how supervised children are marked). */
export async function hasEnvMarker(pid: number | undefined, key: string, value: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  if (!existsSync('/proc/self/environ')) return true;
  try {
    return (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').includes(`${key}=${value}`);
  } catch {
    return false;
  }
}
