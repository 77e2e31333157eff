import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, runCommand } from '../../_helpers/cli.js';

const FIXTURES = join(ROOT, 'test/_fixtures/config');
const home = mkdtempSync(join(tmpdir(), 'sc-config-cli-'));
/** A private home: `config init` writes ~/.starcluster/config there. */
const env = { STARCLUSTER_HOME: join(home, '.starcluster'), HOME: home, STARCLUSTER_CONFIG: undefined };
const inProcess = (...args: string[]) => runCommand(args, { env });

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('starcluster config (in process)', () => {
  const full = join(FIXTURES, 'full.ini');

  it('validate --json returns {path, templates, valid} and rejects an unknown TEMPLATE', async () => {
    // On success oclif prints the returned value as the --json document.
    const ok = await inProcess('config', 'validate', '--config', full, '--json');
    expect(ok.result).toEqual({
      path: full,
      templates: ['local', 'base', 'vpc', 'spot'],
      valid: true,
      warnings: [
        `${full}:55: [plugin notebook] SETUP_CLASS starcluster.plugins.ipcluster.IPCluster does nothing here: the engine runtime is built in (\`starcluster run\`, the engines \`Client\`), as the IPython cluster was; remove it from PLUGINS`,
      ],
    });
    const human = await inProcess('config', 'validate', '--config', full);
    expect(human.stdout.trim()).toBe(`${full} is valid: 4 cluster templates: local (default), base, vpc, spot`);
    const unknown = await inProcess('config', 'validate', 'spott', '--config', full, '--json');
    const body = JSON.parse(unknown.stdout) as { status: number; error: { code: string; message: string } };
    expect(body).toMatchObject({ status: 3, error: { code: 'UnknownTemplate' } });
    expect(body.error.message).toBe('no cluster template named "spott" (did you mean spot?)');
  });

  it('show --json masks secrets; path --json says where and whether it exists', async () => {
    const shown = await inProcess('config', 'show', 'spot', '--config', full, '--json');
    const settings = shown.result as Record<string, unknown> & { plugins: Record<string, string>[] };
    expect(settings.cluster_size).toBe(4);
    expect(settings.plugins[0]?.notebook_passwd).toBe('***');
    expect(JSON.stringify(settings)).not.toMatch(/hunter2|tok-1234567890/);
    const where = await inProcess('config', 'path', '--config', join(home, 'nope.ini'), '--json');
    expect(where.result).toEqual({ path: join(home, 'nope.ini'), source: 'flag', exists: false });
  });

  it('init writes the template 0600 in a 0700 folder, refuses to overwrite, and --force replaces', async () => {
    const path = join(home, '.starcluster', 'config');
    const first = await inProcess('config', 'init');
    expect(first).toMatchObject({ code: 0, result: { path, overwritten: false } });
    expect(first.stdout).toContain(`wrote ${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.starcluster')).mode & 0o777).toBe(0o700);
    expect(readFileSync(path, 'utf8')).toBe(readFileSync(join(ROOT, 'templates/config.ini'), 'utf8'));

    writeFileSync(path, '# mine\n');
    const again = await inProcess('config', 'init');
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`error: a config file already exists at ${path}; it was left unchanged`);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(path, 'utf8')).toBe('# mine\n');

    const forced = await inProcess('config', 'init', '--config', path, '--force');
    expect(forced.result).toEqual({ path, overwritten: true });
    expect(forced.stdout).toContain(`replaced ${path}`);
    expect(readFileSync(path, 'utf8')).toContain('[cluster local]');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const valid = await inProcess('config', 'validate', '--config', path, '--json');
    expect(valid.result).toEqual({ path, templates: ['local'], valid: true, warnings: [] });
  });

  it('show prints the resolved template with secrets masked', async () => {
    const full = join(FIXTURES, 'full.ini');
    const human = await inProcess('config', 'show', 'spot', '--config', full);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('[cluster spot]\nextends = vpc\nprovider = ec2\nkeyname = mykey\n');
    expect(human.stdout).toContain('cluster_size = 4');
    expect(human.stdout).toContain('notebook_passwd = ***');
    expect(human.stdout).toContain('api_token = ***');
    expect(human.stdout).not.toMatch(/hunter2|tok-1234567890/);
  });
});

describe('starcluster config (subprocess: the exit status and stderr a shell sees)', () => {
  it('validate exits 3 with every located problem and no stack trace', async () => {
    const bad = join(FIXTURES, 'types-bad.ini');
    const run = await runCli(['config', 'validate', '--config', bad], { env });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`error: ${bad} has 19 problems`);
    expect(run.stderr).toContain(`  ${bad}:14: [cluster c] CLUSTER_SIZE: expected a whole number, got "two"`);
    expect(run.stderr.split('\n').filter((l) => l.startsWith(`  ${bad}:`))).toHaveLength(19);
    expect(run.stderr).not.toMatch(/\n\s+at |Error:|--debug/);
  });
});
