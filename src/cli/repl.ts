import { start, type REPLServer } from 'node:repl';
import type { Readable, Writable } from 'node:stream';

/**
 * The interactive half of `starcluster shell`: a Node REPL with the session's names in scope and
 * top-level await (so `await lview.apply(...).get()` works). Resolves when the user leaves it
 * (`.exit`, Ctrl-D, or the input ending).
 */
export function runRepl(opts: {
  scope: Record<string, unknown>;
  banner: string;
  input?: Readable;
  output?: Writable;
  terminal?: boolean;
}): Promise<void> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  output.write(opts.banner + '\n');
  const server: REPLServer = start({
    prompt: 'starcluster> ',
    input,
    output,
    terminal: opts.terminal ?? Boolean((output as NodeJS.WriteStream).isTTY),
    useGlobal: false,
    ignoreUndefined: true,
  });
  for (const [name, value] of Object.entries(opts.scope)) {
    if (value === undefined) continue;
    Object.defineProperty(server.context, name, { value, enumerable: true, configurable: true, writable: true });
  }
  return new Promise((resolve) => server.on('exit', () => resolve()));
}
