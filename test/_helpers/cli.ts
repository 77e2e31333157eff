import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '@oclif/core';
import { hoistGlobalFlags } from '../../src/cli/argv.js';

/**
 * The command line under test, two ways:
 * - `runCommand`: in this process, as oclif's own tests run commands (Config.load + Command.run,
 *   stdout and stderr captured). Fast: no Node start, no TypeScript loader. For what a command prints
 *   and returns, and the exit code it ends with.
 * - `runCli` / `spawnCli`: bin/dev.js in a subprocess, for what needs a real process boundary: the
 *   exit status the shell sees, signals, a fresh process's secret registry, stack traces on stderr.
 */
export const ROOT = join(import.meta.dirname, '..', '..');
const DEV = join(ROOT, 'bin', 'dev.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout then stderr, for "never printed anywhere" checks and failure messages. */
  out: string;
}

export interface CliOptions {
  /** Added to this process's environment (with CI=true); `undefined` removes a variable. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A subprocess still running after this long is killed (`killSignal`) and reported as code -1. */
  timeoutMs?: number;
  killSignal?: NodeJS.Signals;
}

function environment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Runs `starcluster ARGS` (the TypeScript sources, through bin/dev.js) in a subprocess. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DEV, ...args],
      {
        env: environment(options.env),
        cwd: options.cwd ?? ROOT,
        timeout: timeoutMs,
        killSignal: options.killSignal ?? 'SIGTERM',
        maxBuffer: 1 << 26,
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown; killed?: boolean }) | null;
        const code = !e ? 0 : typeof e.code === 'number' ? e.code : -1;
        const note = e?.killed ? `\n(killed after ${timeoutMs} ms)` : '';
        resolve({ code, stdout, stderr: stderr + note, out: stdout + stderr + note });
      },
    );
  });
}

export interface LiveCli {
  /** Everything printed so far, stdout and stderr interleaved as they came. */
  out(): string;
  kill(signal: NodeJS.Signals): void;
  /** Resolves once `text` has been printed; rejects if the process exits first. */
  printed(text: string): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `starcluster ARGS` in a subprocess and hands it back running, for tests that signal it at
 * a known point. Bounded: one still running after `timeoutMs` (default 3 min) is SIGKILLed, so a
 * CLI that ignores a signal fails its test instead of hanging it.
 */
export function spawnCli(args: readonly string[], options: CliOptions = {}): LiveCli {
  const child = spawn(process.execPath, [DEV, ...args], {
    env: environment(options.env),
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters])
      if (out.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal });
    }),
  );
  return {
    out: () => out,
    kill: (signal) => child.kill(signal),
    printed: (text) =>
      out.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, resolve });
            void exited.then(() => reject(new Error(`exited without printing "${text}":\n${out}`)));
          }),
    exited,
  };
}

export interface CommandRun extends CliRun {
  /** What the command returned (the --json document's source on success). */
  result?: unknown;
}

type CommandClass = typeof Command & { run(argv: string[], root: string): Promise<unknown> };

/** The command class for the leading words of `argv` (`config validate` → src/commands/config/validate.ts). */
async function commandOf(argv: readonly string[]): Promise<{ command: CommandClass; rest: string[] }> {
  for (let words = Math.min(2, argv.length); words >= 1; words--) {
    const head = argv.slice(0, words);
    if (head.some((w) => w.startsWith('-'))) continue;
    const file = join(ROOT, 'src', 'commands', ...head) + '.ts';
    if (existsSync(file)) {
      const mod = (await import(file)) as { default: CommandClass };
      return { command: mod.default, rest: argv.slice(words) };
    }
  }
  throw new Error(`no command file for: ${argv.join(' ')} (runCommand takes command ids, not aliases)`);
}

/**
 * Runs `starcluster ARGS` in this process: global options hoisted as bin/run.js does, the command's
 * class run by oclif with this package's config, stdout and stderr captured, the environment
 * changed for the run only. The exit code is the one oclif would exit with.
 */
export async function runCommand(args: readonly string[], options: Pick<CliOptions, 'env'> = {}): Promise<CommandRun> {
  const { command, rest } = await commandOf(hoistGlobalFlags([...args]));
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.env.CI = 'true';
  const stdout: string[] = [];
  const stderr: string[] = [];
  const writes = { out: process.stdout.write, err: process.stderr.write };
  const capture =
    (into: string[]) =>
    (chunk: string | Uint8Array, ...more: unknown[]): boolean => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      const done = more.find((m) => typeof m === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
  process.stdout.write = capture(stdout) as typeof process.stdout.write;
  process.stderr.write = capture(stderr) as typeof process.stderr.write;
  let code = 0;
  let result: unknown;
  try {
    result = await command.run(rest, ROOT);
  } catch (error) {
    // BaseCommand ends every failure with this.exit(code): oclif's ExitError carries the code.
    const exit = (error as { oclif?: { exit?: number } }).oclif?.exit;
    code = typeof exit === 'number' ? exit : 1;
    if (typeof exit !== 'number') stderr.push(String((error as Error).stack ?? error));
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  const [o, e] = [stdout.join(''), stderr.join('')];
  return { code, stdout: o, stderr: e, out: o + e, result };
}
