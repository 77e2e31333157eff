/**
 * Build-time only: assembles kernel.wat with wabt (a devDependency) into the TypeScript module kernel-wasm.ts.
 * Used by main.ts and by the test that checks the committed bytes are current.
 */
import { format, resolveConfig } from 'prettier';
import wabt from 'wabt';

export async function assembleLsKernel(wat: string): Promise<Uint8Array> {
  const toolkit = await wabt();
  const module = toolkit.parseWat('kernel.wat', wat, { simd: true, multi_value: true, relaxed_simd: true });
  try {
    module.validate();
    return module.toBinary({ canonicalize_lebs: true }).buffer;
  } finally {
    module.destroy();
  }
}

/** The TypeScript module holding `bytes`, formatted as the repository's prettier would. */
export async function lsKernelModuleSource(bytes: Uint8Array, path: string): Promise<string> {
  const base64 = Buffer.from(bytes).toString('base64');
  const lines = base64.match(/.{1,96}/g) ?? [];
  const source = [
    '// Generated from kernel.wat by `npx tsx src/science/wasm/ls/main.ts`. Do not edit.',
    `export const LS_KERNEL_WASM_BASE64 =\n${lines.map((l) => `  '${l}'`).join(' +\n')};`,
    '',
  ].join('\n');
  const options = (await resolveConfig(path)) ?? {};
  return format(source, { ...options, filepath: path });
}
