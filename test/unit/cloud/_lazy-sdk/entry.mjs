import process from 'node:process';
import { register } from 'node:module';

// argv: hook file, the log the hook writes to, the script to run (under tsx, loaded by --import).
const [hook, log, script, ...args] = process.argv.slice(2);
register(hook, { data: { file: log } });
const { run } = await import(script);
await run(...args);
