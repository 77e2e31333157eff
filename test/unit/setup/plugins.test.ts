import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { setupCluster } from '../../../src/setup/index.js';
import { BUNDLED_PLUGIN_DIR, loadPlugin, resolvePluginPath } from '../../../src/setup/plugin-loader.js';
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
      resolvePluginPath('starcluster.plugins.sge.SGEPlugin');
    } catch (e) {
      error = e;
    }
    expect(StarclusterError.is(error) && error.code).toBe('PluginUnknown');
    expect((error as Error).message).toContain('the engine runtime replaces SGE');
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
