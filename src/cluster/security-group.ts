import type { PermissionSettings } from '../config/types.js';

/**
 * The rules of a cluster's security group `@sc-NAME`: TCP 22 from SSH_CIDR, all traffic between
 * members of the group, and the `[permission]` rules; nothing else (egress stays AWS's default).
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
  | { kind: 'self'; protocol: '-1'; fromPort: -1; toPort: -1; description: string };

export function securityGroupName(cluster: string): string {
  return `@sc-${cluster}`;
}

/** A stable key for comparing planned and existing rules. */
export function ruleKey(rule: IngressRule): string {
  return rule.kind === 'self' ? 'self|-1' : [rule.protocol, rule.fromPort, rule.toPort, rule.cidr].join('|');
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
    rules.push({
      kind: 'cidr',
      protocol: p.protocol,
      fromPort: p.protocol === 'icmp' ? -1 : p.fromPort,
      toPort: p.protocol === 'icmp' ? -1 : p.toPort,
      cidr: p.cidrIp,
      description: `starcluster: permission ${p.name}`,
    });
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
