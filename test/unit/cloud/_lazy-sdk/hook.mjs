import { appendFileSync } from 'node:fs';

/** A module-resolve hook that writes down every AWS SDK module the process resolves. */
let file;

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (/\/node_modules\/@aws-sdk\//.test(resolved.url)) appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
