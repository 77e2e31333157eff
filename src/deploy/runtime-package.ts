import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { RUNTIME_ENTRIES } from '../engines/entries.js';
import { JobError } from '../errors.js';
import { execChecked, type RemoteHost } from '../remote/types.js';
import { shellQuote as q } from '../shell.js';
import { remoteRoot } from './state.js';

export interface EngineRuntimePackage {
  /** Local folder: engine.mjs, controller.mjs, supervisor.mjs, package.json, node_modules/zeromq. */
  dir: string;
  hash: string;
  arch: string;
}

const RUNTIME_BANNER = [
  "import { createRequire as __starclusterCreateRequire } from 'node:module';",
  'const require = __starclusterCreateRequire(import.meta.url);',
].join('\n');

/** Our entry module as a file esbuild can read: compiled .js under dist/, else the .ts source. */
function entryFile(url: URL): string {
  const js = fileURLToPath(url);
  return existsSync(js) ? js : js.replace(/\.js$/, '.ts');
}

function zeromqDirs(): { zeromq: string; cmakeTs: string } {
  const zeromq = dirname(fileURLToPath(import.meta.resolve('zeromq/package.json')));
  let cmakeTs = join(zeromq, 'node_modules', 'cmake-ts');
  if (!existsSync(cmakeTs)) cmakeTs = resolve(zeromq, '..', 'cmake-ts');
  return { zeromq, cmakeTs };
}

/** The runtime's entry points and the node supervisor, as files esbuild reads, by bundle name. */
function runtimeEntryPoints(): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [name, url] of Object.entries(RUNTIME_ENTRIES)) entries[name] = entryFile(url);
  entries.supervisor = entryFile(new URL('../cloud/local/node/main.js', import.meta.url));
  return entries;
}

/** Where built packages are cached: node_modules/.cache of this checkout, else the temp folder. */
function cacheRootDefault(): string {
  return existsSync(fileURLToPath(new URL('../../node_modules', import.meta.url)))
    ? fileURLToPath(new URL('../../node_modules/.cache/starcluster/runtime', import.meta.url))
    : join(tmpdir(), 'starcluster-runtime');
}

/** zeromq's JavaScript, its prebuilt addon for linux/`arch`, and cmake-ts's loader, into `dir`/node_modules. */
async function copyZeromq(dir: string, arch: string): Promise<void> {
  const { zeromq, cmakeTs } = zeromqDirs();
  const zdir = join(dir, 'node_modules', 'zeromq');
  await mkdir(join(zdir, 'build'), { recursive: true });
  await cp(join(zeromq, 'package.json'), join(zdir, 'package.json'));
  await cp(join(zeromq, 'lib'), join(zdir, 'lib'), {
    recursive: true,
    filter: (src) => !/\.(map|ts)$/.test(src),
  });
  await cp(join(zeromq, 'build', 'manifest.json'), join(zdir, 'build', 'manifest.json'));
  const addonDir = join(zeromq, 'build', 'linux', arch);
  if (!existsSync(addonDir)) {
    throw new JobError(
      'NoZeromqAddon',
      `zeromq has no prebuilt addon for linux/${arch}: use x64 or arm64 instance types`,
    );
  }
  await cp(addonDir, join(zdir, 'build', 'linux', arch), { recursive: true });
  const cdir = join(dir, 'node_modules', 'cmake-ts');
  await mkdir(join(cdir, 'build'), { recursive: true });
  await cp(join(cmakeTs, 'package.json'), join(cdir, 'package.json'));
  for (const f of ['loader.js', 'loader.mjs']) {
    if (existsSync(join(cmakeTs, 'build', f))) await cp(join(cmakeTs, 'build', f), join(cdir, 'build', f));
  }
}

/**
 * One folder that runs the engine runtime on any Linux node with Node 20+: the runtime's entry
 * points (src/engines/entries.ts) and the node supervisor bundled by esbuild (zeromq external),
 * plus zeromq's JavaScript and its prebuilt addon for the node's architecture. Built once per
 * content and cached.
 */
export async function buildEngineRuntime(arch = 'x64', cacheRoot?: string): Promise<EngineRuntimePackage> {
  const result = await build({
    entryPoints: runtimeEntryPoints(),
    bundle: true,
    write: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['zeromq'],
    outdir: 'out',
    outExtension: { '.js': '.mjs' },
    banner: { js: RUNTIME_BANNER },
    logLevel: 'silent',
  });
  const zeromqPkg = await readFile(join(zeromqDirs().zeromq, 'package.json'), 'utf8');
  const hash = createHash('sha256');
  for (const file of result.outputFiles) hash.update(file.path).update(file.contents);
  hash.update(zeromqPkg).update(arch);
  const digest = hash.digest('hex').slice(0, 16);
  const dir = join(cacheRoot ?? cacheRootDefault(), `engine-runtime-${arch}-${digest}`);
  if (existsSync(join(dir, 'package.json'))) return { dir, hash: digest, arch };
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const file of result.outputFiles) await writeFile(join(tmp, file.path.split('/').pop()!), file.contents);
  await copyZeromq(tmp, arch);
  await writeFile(join(tmp, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n');
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another process made it first
  }
  return { dir, hash: digest, arch };
}

/**
 * Puts the runtime package on a node (once per content) under ROOT/runtime/ARCH-HASH and returns
 * that folder. A private temp name per upload; the finished folder is moved into place whole, and
 * a node that finds another upload already there (a shared disk) simply drops its own.
 */
export async function installEngineRuntime(
  host: RemoteHost,
  pkg: EngineRuntimePackage,
  root = remoteRoot(),
): Promise<string> {
  const remoteDir = posix.join(root, 'runtime', `${pkg.arch}-${pkg.hash}`);
  const have = await host.exec(`test -f ${q(remoteDir)}/.complete`);
  if (have.code !== 0) {
    const tmp = `${remoteDir}.tmp-${host.alias}-${process.pid}`;
    await execChecked(host, `rm -rf ${q(tmp)} && mkdir -p ${q(posix.dirname(remoteDir))}`);
    await host.put(pkg.dir, tmp);
    await execChecked(
      host,
      // Readable by all: engines run as the cluster user, not as root who uploads it.
      `chmod -R a+rX ${q(tmp)}; touch ${q(tmp)}/.complete; mv -T ${q(tmp)} ${q(remoteDir)} 2>/dev/null; rm -rf ${q(tmp)}; test -f ${q(remoteDir)}/.complete`,
    );
  }
  return remoteDir;
}
