import { describe, expect, it } from 'vitest';
import type { PermissionSettings } from '../../../src/config/types.js';
import {
  describeRule,
  missingRules,
  planIngressRules,
  ruleKey,
  securityGroupName,
} from '../../../src/cloud/security-group.js';

const perm = (over: Partial<PermissionSettings>): PermissionSettings => ({
  name: 'p',
  protocol: 'tcp',
  fromPort: 80,
  toPort: 80,
  cidrIp: '0.0.0.0/0',
  ...over,
});

describe('security group rules', () => {
  it('opens ssh from SSH_CIDR and everything within the group, nothing else', () => {
    const rules = planIngressRules('203.0.113.7/32', []);
    expect(rules.map(ruleKey)).toEqual(['self|-1', 'tcp|22|22|203.0.113.7/32']);
    expect(securityGroupName('demo')).toBe('@sc-demo');
  });

  it('adds [permission] rules; icmp uses -1 ports; duplicates collapse', () => {
    const rules = planIngressRules('0.0.0.0/0', [
      perm({ name: 'www' }),
      perm({ name: 'www2' }),
      perm({ name: 'ping', protocol: 'icmp', fromPort: 0, toPort: 0 }),
    ]);
    expect(rules.map(ruleKey)).toEqual([
      'self|-1',
      'tcp|22|22|0.0.0.0/0',
      'tcp|80|80|0.0.0.0/0',
      'icmp|-1|-1|0.0.0.0/0',
    ]);
  });

  it('does not add a second ssh rule when a permission already covers it', () => {
    const rules = planIngressRules('10.0.0.0/8', [perm({ fromPort: 20, toPort: 25, cidrIp: '10.0.0.0/8' })]);
    expect(rules.filter((r) => r.kind === 'cidr')).toHaveLength(1);
  });

  it('a SOURCE_GROUP permission admits that group and no CIDR range', () => {
    const { cidrIp: _none, ...base } = perm({ name: 'db', fromPort: 5432, toPort: 5432 });
    const rules = planIngressRules('203.0.113.7/32', [{ ...base, sourceGroup: 'sg-0abc' }]);
    expect(rules.map(ruleKey)).toEqual(['self|-1', 'tcp|22|22|203.0.113.7/32', 'tcp|5432|5432|group:sg-0abc']);
    expect(rules.filter((r) => r.kind === 'cidr').map((r) => r.cidr)).toEqual(['203.0.113.7/32']);
    expect(rules.map(describeRule)).toContain('tcp 5432-5432 from group sg-0abc');
  });

  it('plans only the missing rules of an existing group (resume)', () => {
    const planned = planIngressRules('0.0.0.0/0', [perm({})]);
    const existing = planned.slice(0, 2);
    expect(missingRules(planned, existing).map(ruleKey)).toEqual(['tcp|80|80|0.0.0.0/0']);
  });
});
