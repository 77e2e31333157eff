import { describe, expect, it } from 'vitest';
import {
  aliasNumber,
  aliasesToRemove,
  clusterAliases,
  compareAliases,
  missingAliases,
  nextAliases,
  nodeAlias,
} from '../../../src/model/aliases.js';

describe('aliases', () => {
  it('numbers nodes from node001 after the master', () => {
    expect(clusterAliases(4)).toEqual(['master', 'node001', 'node002', 'node003']);
    expect(clusterAliases(1)).toEqual(['master']);
    expect(nodeAlias(1234)).toBe('node1234');
    expect(aliasNumber('node012')).toBe(12);
    expect(aliasNumber('master')).toBeUndefined();
  });

  it('gives new nodes the numbers after the highest, never refilling gaps', () => {
    expect(nextAliases(['master', 'node001', 'node002', 'node003'], 2)).toEqual(['node004', 'node005']);
    expect(nextAliases(['master', 'node001', 'node005'], 1)).toEqual(['node006']);
    expect(nextAliases(['master'], 1)).toEqual(['node001']);
  });

  it('removes the highest-numbered workers and never the master', () => {
    expect(aliasesToRemove(['master', 'node001', 'node010', 'node002'], 2)).toEqual(['node010', 'node002']);
    expect(aliasesToRemove(['master'], 1)).toEqual([]);
  });

  it('finds the aliases a half-made cluster lacks, and sorts master first', () => {
    expect(missingAliases(clusterAliases(4), ['node002', 'master'])).toEqual(['node001', 'node003']);
    expect(['node010', 'node002', 'master'].sort(compareAliases)).toEqual(['master', 'node002', 'node010']);
  });
});
