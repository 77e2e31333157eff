import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { restartHooks, setupCluster } from '../../../src/setup/index.js';
import {
  BUNDLED_PLUGIN_DIR,
  PORTING_GUIDE,
  checkPlugins,
  loadPlugin,
  resolvePluginPath,
} from '../../../src/setup/plugin-loader.js';
import { userNames } from '../../../plugins/users.js';
import { context, defaultAnswers, record, RecordingAccess } from './recording-access.js';

describe('plugin loading', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-plugins-'));
    await writeFile(
      join(dir, 'hello.ts'),
      [
        "import { z } from 'zod';",
        `import { definePlugin } from '${join(process.cwd(), 'src/setup/plugins.js')}';`,
        'export default definePlugin({',
        "  name: 'hello',",
        '  settings: z.object({ greeting: z.string(), times: z.coerce.number().int() }).strict(),',
        '  async run(ctx) { await ctx.master.ssh.exec(`echo ${ctx.settings.greeting} x${ctx.settings.times} for ${ctx.user}`); },',
        "  async onAddNode(node) { await node.ssh.exec('echo added'); },",
        '});',
      ].join('\n'),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("maps StarCluster's class paths to the bundled plugins", () => {
    expect(resolvePluginPath('starcluster.plugins.pkginstaller.PackageInstaller')).toBe(
      join(BUNDLED_PLUGIN_DIR, 'pkginstaller.ts'),
    );
    expect(resolvePluginPath('starcluster.plugins.users.CreateUsers')).toBe(join(BUNDLED_PLUGIN_DIR, 'users.ts'));
    expect(resolvePluginPath('starcluster.plugins.tmux.TmuxControlCenter')).toBe(join(BUNDLED_PLUGIN_DIR, 'tmux.ts'));
    expect(resolvePluginPath('starcluster.plugins.pypkginstaller.PyPkgInstaller')).toBe(
      join(BUNDLED_PLUGIN_DIR, 'pypkginstaller.ts'),
    );
    expect(resolvePluginPath('plugins/mine.ts', '/home/u/.starcluster/config')).toBe(
      '/home/u/.starcluster/plugins/mine.ts',
    );
  });

  it('says what to do with a StarCluster plugin we do not carry', () => {
    let error: unknown;
    try {
      resolvePluginPath('starcluster.plugins.hadoop.Hadoop');
    } catch (e) {
      error = e;
    }
    expect(StarclusterError.is(error) && error.code).toBe('PluginNotPorted');
    expect((error as Error).message).toContain('no Hadoop plugin is bundled');
  });

  it('recognises a Python plugin class, finds its module, and points to the porting guide', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.starcluster', 'plugins'), { recursive: true });
    await writeFile(join(home, '.starcluster', 'plugins', 'mypackage.py'), 'class MyPlugin(ClusterSetup): pass\n');
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const { problems, warnings } = await checkPlugins([
        { name: 'mine', setupClass: 'mypackage.MyPlugin', settings: {}, location: { file: '/cfg', line: 7 } },
        {
          name: 'ipc',
          setupClass: 'starcluster.plugins.ipcluster.IPCluster',
          settings: {},
          location: { file: '/cfg', line: 9 },
        },
        { name: 'gone', setupClass: './nowhere.ts', settings: {}, location: { file: '/cfg', line: 11 } },
        {
          name: 'sge',
          setupClass: 'starcluster.plugins.sge.SGEPlugin',
          settings: {},
          location: { file: '/cfg', line: 13 },
        },
      ]);
      expect(problems).toEqual([
        `/cfg:7: [plugin mine] SETUP_CLASS mypackage.MyPlugin is a StarCluster (Python) plugin class (found ${join(home, '.starcluster/plugins/mypackage.py')}): Python plugins cannot run here; port it to a TypeScript plugin and set SETUP_CLASS to its .ts file (docs/porting-plugins.md shows one side by side); porting guide: ${PORTING_GUIDE}`,
        '/cfg:11: [plugin gone] SETUP_CLASS file /nowhere.ts does not exist',
      ]);
      expect(warnings).toEqual([
        '/cfg:9: [plugin ipc] SETUP_CLASS starcluster.plugins.ipcluster.IPCluster does nothing here: the engine runtime is built in (`starcluster run`, the engines `Client`), as the IPython cluster was; remove it from PLUGINS',
        "/cfg:13: [plugin sge] StarCluster's SGE plugin: the queue is Slurm now, not SGE: qsub → sbatch, qstat → squeue, qdel → scancel, qhost → sinfo (MPI: mpirun --hostfile /home/hostfile, or srun --mpi=pmix)",
      ]);
    } finally {
      process.env.HOME = saved;
    }
  });

  it("loads and runs the porting guide's TypeScript example, restart hook included", async () => {
    const guide = readFileSync(PORTING_GUIDE, 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(guide)?.[1] ?? '';
    expect(code).toContain('onRestart');
    await writeFile(join(dir, 'motd.ts'), code);
    const section = {
      name: 'motd',
      setupClass: 'motd.ts',
      settings: { message: 'Welcome', packages: 'htop' },
      location: { file: join(dir, 'config'), line: 3 },
    };
    expect(await checkPlugins([section])).toEqual({ problems: [], warnings: [] });
    const access = new RecordingAccess(defaultAnswers);
    const ctx = context([record('master', '10.0.0.4'), record('node001', '10.0.0.5')], {
      sharedFs: 'none',
      plugins: [section],
    });
    await setupCluster(ctx, undefined, { access });
    for (const node of ['master', 'node001']) {
      expect(access.on(node)).toContain('#writeFile /etc/motd');
      expect(access.on(node).join('\n')).toContain('for p in htop; do dpkg-query');
    }
    await restartHooks(ctx, { access });
    expect(ctx.io.messages.map((m) => m.message)).toContain('motd: cluster is rebooting');
  });

  it('validates bundled plugin settings and reports every bad key', async () => {
    const error = await loadPlugin({
      name: 'pkgs',
      setupClass: 'pkginstaller',
      settings: { pakages: 'htop' },
      location: { file: 'cfg', line: 12 },
    }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('PluginSettingsInvalid');
    expect((error as Error).message).toBe('cfg:12: [plugin pkgs] has invalid settings');
    expect((error as StarclusterError).details.join('\n')).toMatch(/packages|pakages/);
  });

  it('loads a .ts plugin file, runs it with typed settings, and calls onAddNode', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const nodes = [record('master', '10.0.0.4'), record('node001', '10.0.0.5')];
    const ctx = context(nodes, {
      sharedFs: 'none',
      plugins: [{ name: 'hi', setupClass: join(dir, 'hello.ts'), settings: { greeting: 'hey', times: '3' } }],
    });
    await setupCluster(ctx, undefined, { access });
    expect(access.on('master')).toContain('echo hey x3 for sgeadmin');
    expect(ctx.io.events.some((e) => e.id === 'plugin-hi' && e.state === 'done')).toBe(true);
  });

  it('runs the bundled package installer on every node', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const nodes = [record('master', '10.0.0.4'), record('node001', '10.0.0.5')];
    const ctx = context(nodes, {
      sharedFs: 'none',
      plugins: [
        {
          name: 'pkgs',
          setupClass: 'starcluster.plugins.pkginstaller.PackageInstaller',
          settings: { packages: 'htop, tmux' },
        },
      ],
    });
    await setupCluster(ctx, undefined, { access });
    for (const node of ['master', 'node001'])
      expect(access.on(node).join('\n')).toContain('for p in htop tmux; do dpkg-query');
  });

  it('names users as StarCluster does', () => {
    expect(userNames({ num_users: 3, usernames: 'ann, bob' })).toEqual(['ann', 'bob', 'user001']);
    expect(userNames({ num_users: 2, usernames: '' })).toEqual(['user001', 'user002']);
  });
});
