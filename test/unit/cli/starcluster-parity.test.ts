import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hoistGlobalFlags } from '../../../src/cli/argv.js';

/**
 * Every StarCluster command, alias and option (test/_fixtures/starcluster/commands.json, written
 * from StarCluster's starcluster/commands/*.py and cli.py) is either in our --help — the command
 * exists under that name with the alias, and a flag with the same letter (and the long name, as
 * its name, its --no- form or an alias) — or named in the README's list of what is left out.
 */
const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));

interface ScOption {
  short?: string;
  long?: string;
}
interface ScCommand {
  aliases: string[];
  options: ScOption[];
}
interface OurFlag {
  name: string;
  char?: string;
  aliases?: string[];
  allowNo?: boolean;
  hidden?: boolean;
}
interface OurCommand {
  aliases?: string[];
  flags?: Record<string, Omit<OurFlag, 'name'>>;
  hidden?: boolean;
}

const fixture = JSON.parse(readFileSync(join(ROOT, 'test/_fixtures/starcluster/commands.json'), 'utf8')) as Record<
  string,
  ScCommand | string
>;
const commands = Object.entries(fixture).filter((e): e is [string, ScCommand] => typeof e[1] !== 'string');

/** The README's "left out" list: one bullet per item, each starting with `command` or `command -x` in backticks. */
function leftOut(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('#### Left out');
  expect(start, 'README has a "#### Left out" list').toBeGreaterThan(-1);
  const section = readme.slice(start).split(/\n#{2,4} /)[0] ?? '';
  return [...section.matchAll(/^- `([^`]+)`/gm)].map((m) => m[1] ?? '');
}

async function ours(name: string): Promise<OurCommand | undefined> {
  const file = join(ROOT, 'src/commands', `${name}.ts`);
  if (!existsSync(file)) return undefined;
  return ((await import(pathToFileURL(file).href)) as { default: OurCommand }).default;
}

function flagsOf(command: OurCommand): OurFlag[] {
  return Object.entries(command.flags ?? {}).map(([name, f]) => ({ name, ...f }));
}

function accepts(flags: OurFlag[], option: ScOption): boolean {
  const long = option.long?.replace(/^--/, '');
  const byChar = option.short ? flags.find((f) => f.char === option.short?.slice(1) && !f.hidden) : undefined;
  const byLong = long
    ? flags.find(
        (f) => !f.hidden && (f.name === long || f.aliases?.includes(long) || (f.allowNo && `no-${f.name}` === long)),
      )
    : undefined;
  // The letter and the long name must be the same flag (a letter meaning something else is a clash).
  if (option.short && long) return byChar !== undefined && byChar === byLong;
  return (byChar ?? byLong) !== undefined;
}

describe('every StarCluster command and option is in our --help or in the README’s left-out list', () => {
  const out = leftOut();
  const isLeftOut = (item: string): boolean => out.includes(item);

  it('the fixture has every command of StarCluster 0.95 (38 with help) and its options', () => {
    expect(commands.filter(([n]) => n !== '(global)').length).toBe(37); // + help, which oclif has
    expect(commands.reduce((n, [, c]) => n + c.options.length, 0)).toBeGreaterThan(120);
  });

  it.each(commands.filter(([n]) => n !== '(global)'))('%s', async (name, sc) => {
    const command = await ours(name);
    if (!command) {
      expect(isLeftOut(name), `${name} is neither a command nor left out in the README`).toBe(true);
      return;
    }
    expect(command.hidden ?? false).toBe(false);
    const missing: string[] = [];
    for (const alias of sc.aliases)
      if (!command.aliases?.includes(alias) && !isLeftOut(`${name} ${alias}`)) missing.push(`alias ${alias}`);
    const flags = flagsOf(command);
    for (const option of sc.options) {
      if (accepts(flags, option)) continue;
      const named = [option.short, option.long].filter(Boolean).map((o) => `${name} ${o}`);
      if (named.some(isLeftOut)) continue;
      missing.push([option.short, option.long].filter(Boolean).join('/'));
    }
    expect(missing, `${name}: in neither --help nor the README's left-out list`).toEqual([]);
  });

  it('the global options go before the command, as StarCluster took them', () => {
    const global = fixture['(global)'] as ScCommand;
    for (const option of global.options) {
      const value = option.long === '--debug' ? [] : ['x'];
      expect(hoistGlobalFlags([option.short!, ...value, 'listclusters'])).toEqual([
        'listclusters',
        option.long,
        ...value,
      ]);
      expect(hoistGlobalFlags([option.long!, ...value, 'listclusters'])).toEqual([
        'listclusters',
        option.long,
        ...value,
      ]);
    }
  });

  it('every left-out item names a real StarCluster command or option (no stale lines)', () => {
    for (const item of out) {
      const [name, option] = item.split(' ');
      const sc = fixture[name ?? ''] as ScCommand | undefined;
      expect(sc, `README left-out item ${item}: no such StarCluster command`).toBeDefined();
      if (option)
        expect(
          sc!.aliases.includes(option) || sc!.options.some((o) => o.short === option || o.long === option),
          `README left-out item ${item}: no such option`,
        ).toBe(true);
    }
  });
});
