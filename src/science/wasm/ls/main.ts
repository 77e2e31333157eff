/**
 * Regenerates kernel-wasm.ts (the Lomb-Scargle kernels' bytes, base64) from kernel.wat with wabt.
 *
 *   npx tsx src/science/wasm/ls/main.ts          # rewrite kernel-wasm.ts
 *   npx tsx src/science/wasm/ls/main.ts --check  # exit 1 if kernel-wasm.ts is stale
 *
 * The library never needs wabt at run time: it loads the committed bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assembleLsKernel, lsKernelModuleSource } from './assemble.js';

const here = dirname(fileURLToPath(import.meta.url));
const wat = readFileSync(join(here, 'kernel.wat'), 'utf8');
const target = join(here, 'kernel-wasm.ts');
const source = await lsKernelModuleSource(await assembleLsKernel(wat), target);
if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== source) {
    console.error('src/science/wasm/ls/kernel-wasm.ts is stale: run npx tsx src/science/wasm/ls/main.ts');
    process.exit(1);
  }
  console.log('kernel-wasm.ts matches kernel.wat');
} else {
  writeFileSync(target, source);
  console.log(`wrote ${target}`);
}
