import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionOfSdkName, API_CALLS, iamPolicy } from '../../../src/cloud/ec2/iam-policy.js';

const SRC = join(import.meta.dirname, '..', '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * Every AWS action the code can call: each SDK command it constructs, paginator and waiter it
 * runs, attributed to the service of the @aws-sdk/client-* package it came from (static or
 * dynamic import).
 */
function actionsTheCodeCalls(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const serviceOf = new Map<string, 'ec2' | 'ssm' | 'servicequotas'>();
    const imports =
      /(?:import\s*(?:type\s*)?\{([^}]*)\}\s*from|const\s*\{([^}]*)\}\s*=\s*await\s+import\()\s*'@aws-sdk\/client-(ec2|ssm|service-quotas)'/g;
    for (const m of text.matchAll(imports)) {
      for (const name of (m[1] ?? m[2] ?? '').split(',')) {
        const id = name
          .replace(/\btype\b/, '')
          .trim()
          .split(/\s+as\s+/)[0]
          ?.trim();
        if (id) serviceOf.set(id, m[3] === 'service-quotas' ? 'servicequotas' : (m[3] as 'ec2' | 'ssm'));
      }
    }
    const uses = /new\s+([A-Z]\w*Command)\s*\(|\b(paginate[A-Z]\w*)\s*\(|\b(waitUntil[A-Z]\w*)\b/g;
    for (const m of text.matchAll(uses)) {
      const name = m[1] ?? m[2] ?? m[3] ?? '';
      const service = serviceOf.get(name);
      if (!service) continue; // not an AWS SDK name (e.g. our own classes)
      const action = actionOfSdkName(service, name);
      found.set(action, [...(found.get(action) ?? []), file.slice(SRC.length + 1)]);
    }
  }
  return found;
}

describe('starcluster iam-policy', () => {
  const policy = iamPolicy();
  const allowed = new Set(policy.Statement.flatMap((s) => s.Action));

  it('allows every AWS action the code calls', () => {
    const called = actionsTheCodeCalls();
    // The scan really sees the code (or this test proves nothing).
    expect(called.has('ec2:RunInstances')).toBe(true);
    expect(called.has('ssm:GetParameter')).toBe(true);
    expect(called.has('servicequotas:GetServiceQuota')).toBe(true);
    const missing = [...called.keys()].filter((a) => !allowed.has(a)).map((a) => `${a} (${called.get(a)!.join(', ')})`);
    console.log(
      `iam-policy: code calls ${called.size} actions; policy allows ${allowed.size}; missing: ${missing.length}`,
    );
    expect(missing).toEqual([]);
  });

  it('allows nothing the code does not call, but what AWS checks on its behalf', () => {
    const called = actionsTheCodeCalls();
    const extra = API_CALLS.filter((c) => !called.has(c.action) && !c.implicit).map((c) => c.action);
    expect(extra).toEqual([]);
    expect(API_CALLS.filter((c) => c.implicit).map((c) => c.action)).toEqual([
      'iam:CreateServiceLinkedRole',
      'iam:PassRole',
    ]);
  });

  it('scopes what it can: deletions on cluster-tagged resources, SSM to public parameters, the spot role only', () => {
    const by = (sid: string) => policy.Statement.find((s) => s.Sid === sid)!;
    expect(by('StarclusterChangeOwn').Action).toContain('ec2:TerminateInstances');
    expect(by('StarclusterChangeOwn').Condition).toEqual({
      StringLike: { 'aws:ResourceTag/starcluster:cluster': '*' },
    });
    expect(by('StarclusterRead').Action.every((a) => /^ec2:(Describe|Get)/.test(a))).toBe(true);
    expect(by('StarclusterImageAliases').Resource).toBe('arn:aws:ssm:*::parameter/aws/service/*');
    expect(by('StarclusterFirstSpotLaunch').Condition).toEqual({
      StringEquals: { 'iam:AWSServiceName': 'spot.amazonaws.com' },
    });
    expect(by('StarclusterVcpuQuotas')).toMatchObject({
      Action: ['servicequotas:GetServiceQuota'],
      Resource: ['arn:aws:servicequotas:*:*:ec2/L-1216C47A', 'arn:aws:servicequotas:*:*:ec2/L-34B43A08'],
    });
    expect([...allowed].some((a) => a.endsWith(':*') || a === '*')).toBe(false);
    // No action appears in two statements with different scopes but the two tag statements.
    const seen = policy.Statement.flatMap((s) => s.Action.map((a) => `${a} ${s.Sid}`));
    expect(seen.filter((x) => x.startsWith('ec2:CreateTags'))).toHaveLength(2);
  });
});
