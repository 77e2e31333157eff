import { Parser } from '@oclif/core';
import { describe, expect, it } from 'vitest';
import AddNode from '../../../src/commands/addnode.js';
import RemoveNode from '../../../src/commands/removenode.js';

describe('-a takes aliases repeated or as a comma list', () => {
  it.each([
    ['addnode', AddNode],
    ['removenode', RemoveNode],
  ])('%s -a node003,node004 -a " node005"', async (_name, command) => {
    const { flags } = await Parser.parse(['-a', 'node003, node004', '-a', ' node005'], {
      flags: { alias: command.flags.alias },
    });
    expect(flags.alias).toEqual(['node003', 'node004', 'node005']);
  });
});
