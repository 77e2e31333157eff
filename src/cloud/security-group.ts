import type { PermissionSettings } from '../config/types.js';

/**
 * The rules of a cluster's security group `@sc-NAME`: TCP 22 from SSH_CIDR, all traffic between
 * members of the group, and the `[permission]` rules; nothing else (egress stays AWS's default).
 * A permission with SOURCE_GROUP admits that group only (`kind: 'group'`), never a CIDR range.
 */
export type IngressRule =
  | {
      kind: 'cidr';
      protocol: 'tcp' | 'udp' | 'icmp' | '-1';
      fromPort: number;
      toPort: number;
      cidr: string;
      description: string;
    }
  | {
      kind: 'group';
      protocol: 'tcp' | 'udp' | 'icmp' | '-1';
      fromPort: number;
      toPort: number;
      /** A group id (`sg-…`), or a name the security-group step resolves to an id within the cluster's VPC. */
      group: string;
      description: string;
    }
  | { kind: 'self'; protocol: '-1'; fromPort: -1; toPort: -1; description: string };

export function securityGroupName(cluster: string): string {
  return `@sc-${cluster}`;
}

/** A stable key for comparing planned and existing rules. */
export function ruleKey(rule: IngressRule): string {
  if (rule.kind === 'self') return 'self|-1';
  if (rule.kind === 'group') return [rule.protocol, rule.fromPort, rule.toPort, `group:${rule.group}`].join('|');
  return [rule.protocol, rule.fromPort, rule.toPort, rule.cidr].join('|');
}

export function planIngressRules(sshCidr: string, permissions: readonly PermissionSettings[]): IngressRule[] {
  const rules: IngressRule[] = [
    {
      kind: 'self',
      protocol: '-1',
      fromPort: -1,
      toPort: -1,
      description: 'starcluster: all traffic within the cluster',
    },
  ];
  const sshCovered = permissions.some(
    (p) => p.protocol === 'tcp' && p.fromPort <= 22 && p.toPort >= 22 && p.cidrIp === sshCidr,
  );
  if (!sshCovered) {
    rules.push({
      kind: 'cidr',
      protocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      cidr: sshCidr,
      description: 'starcluster: ssh',
    });
  }
  for (const p of permissions) {
    const ports = {
      protocol: p.protocol,
      fromPort: p.protocol === 'icmp' ? -1 : p.fromPort,
      toPort: p.protocol === 'icmp' ? -1 : p.toPort,
      description: `starcluster: permission ${p.name}`,
    };
    if (p.sourceGroup !== undefined) rules.push({ kind: 'group', group: p.sourceGroup, ...ports });
    else rules.push({ kind: 'cidr', cidr: p.cidrIp ?? '0.0.0.0/0', ...ports });
  }
  // Drop exact duplicates (two [permission] sections with the same rule).
  const seen = new Set<string>();
  return rules.filter((r) => {
    const key = ruleKey(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Rules still to add, given what the group already has (resume, or a changed template). */
export function missingRules(planned: readonly IngressRule[], existing: readonly IngressRule[]): IngressRule[] {
  const have = new Set(existing.map(ruleKey));
  return planned.filter((r) => !have.has(ruleKey(r)));
}

/** One rule as the plan shows it, e.g. `tcp 22-22 from 203.0.113.7/32` or `tcp 5432-5432 from group sg-0abc`. */
export function describeRule(r: IngressRule): string {
  if (r.kind === 'self') return 'all traffic within the group';
  return `${r.protocol} ${r.fromPort}-${r.toPort} from ${r.kind === 'group' ? `group ${r.group}` : r.cidr}`;
}
