import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hoistGlobalFlags } from '../../../src/cli/argv.js';
import { ROOT, runCli } from '../../_helpers/cli.js';

describe('StarCluster global options before the command', () => {
  it('moves -c/-r/-d (and their long forms) behind the command', () => {
    expect(hoistGlobalFlags(['-c', 'my.cfg', '-r', 'eu-west-1', '-d', 'start', 'x'])).toEqual([
      'start',
      'x',
      '--config',
      'my.cfg',
      '--region',
      'eu-west-1',
      '--debug',
    ]);
    expect(hoistGlobalFlags(['--config=my.cfg', '--region', 'eu-west-1', '--debug', 'lc'])).toEqual([
      'lc',
      '--config',
      'my.cfg',
      '--region',
      'eu-west-1',
      '--debug',
    ]);
  });

  it('takes optparse clusters (-dc FILE, -cFILE) and -h', () => {
    expect(hoistGlobalFlags(['-dc', 'f', 'lc'])).toEqual(['lc', '--debug', '--config', 'f']);
    expect(hoistGlobalFlags(['-cf.ini', 'lc'])).toEqual(['lc', '--config', 'f.ini']);
    expect(hoistGlobalFlags(['-h', 'start'])).toEqual(['start', '--help']);
  });

  it("leaves the command's own flags alone: start -c is the template", () => {
    expect(hoistGlobalFlags(['start', '-c', 'large', 'x'])).toEqual(['start', '-c', 'large', 'x']);
    expect(hoistGlobalFlags(['-c', 'f', 'start', '-c', 'large', 'x'])).toEqual([
      'start',
      '-c',
      'large',
      'x',
      '--config',
      'f',
    ]);
  });

  it('puts them before a --, and lets the same flag after the command win', () => {
    expect(hoistGlobalFlags(['-d', 'sm', 'c', '--', 'ls', '-la'])).toEqual(['sm', 'c', '--debug', '--', 'ls', '-la']);
    expect(hoistGlobalFlags(['-c', 'a', 'lc', '--config', 'b'])).toEqual(['lc', '--config', 'b']);
    expect(hoistGlobalFlags(['-c', 'a', 'lc', '--config=b'])).toEqual(['lc', '--config=b']);
  });

  it('stops at the first word that is not a leading global option', () => {
    expect(hoistGlobalFlags(['-x', 'start'])).toEqual(['-x', 'start']);
    expect(hoistGlobalFlags(['-c'])).toEqual(['-c']);
    expect(hoistGlobalFlags(['-d'])).toEqual([]);
  });

  it('works through the real entry point: starcluster -c FILE config path', async () => {
    const file = join(ROOT, 'test/_fixtures/config/full.ini');
    // bin/dev.js itself hoists them: only a real process goes through it.
    const { stdout } = await runCli(['-c', file, 'config', 'path', '--json']);
    expect(JSON.parse(stdout)).toMatchObject({ path: file });
  });
});
