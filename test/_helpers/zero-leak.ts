/**
 * The independent zero-leak check: asks LocalStack with boto3 (not with our own EC2 code) for
 * anything a cluster may still own — instances that are not terminated, security groups,
 * volumes, open/active spot requests, placement groups, key pairs tagged with the cluster — and,
 * when the test fleet runs, asks `localstack/fleet status` for hosts of it.
 *
 * Tests assert `leakCount(report) === 0`; the report names every leftover so a failure says what.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOCALSTACK_PYTHON = `${ROOT}localstack/.venv/bin/python`;
export const FLEET = `${ROOT}localstack/fleet`;

export interface LeakReport {
  cluster: string;
  /** Instances of the cluster in any state but terminated (shutting-down counts: it still bills). */
  instances: { id: string; state: string; name?: string }[];
  securityGroups: { id: string; name: string }[];
  volumes: { id: string; state: string }[];
  spotRequests: { id: string; state: string }[];
  placementGroups: { name: string; state: string }[];
  keyPairs: { name: string }[];
  /** Hosts `localstack/fleet status` still lists for the cluster (only when the fleet runs). */
  fleetHosts: { instanceId: string; address: string }[];
  /** Whether the fleet was asked (false: no fleet script, not root, or no reconciler). */
  fleetChecked: boolean;
  /** Kinds of resource the endpoint could not be asked about (e.g. LocalStack lacks an API). */
  unchecked: string[];
}

export function leakCount(r: LeakReport): number {
  return (
    r.instances.length +
    r.securityGroups.length +
    r.volumes.length +
    r.spotRequests.length +
    r.placementGroups.length +
    r.keyPairs.length +
    r.fleetHosts.length
  );
}

/** One line per leftover, for assertion messages and printed figures. */
export function describeLeaks(r: LeakReport): string {
  const parts = [
    ...r.instances.map((i) => `instance ${i.id} (${i.state}${i.name ? `, ${i.name}` : ''})`),
    ...r.securityGroups.map((g) => `security group ${g.id} (${g.name})`),
    ...r.volumes.map((v) => `volume ${v.id} (${v.state})`),
    ...r.spotRequests.map((s) => `spot request ${s.id} (${s.state})`),
    ...r.placementGroups.map((p) => `placement group ${p.name} (${p.state})`),
    ...r.keyPairs.map((k) => `key pair ${k.name}`),
    ...r.fleetHosts.map((h) => `fleet host ${h.instanceId} (${h.address})`),
  ];
  const note = r.unchecked.length ? ` (not checkable here: ${r.unchecked.join('; ')})` : '';
  return (
    (parts.length ? `cluster ${r.cluster} leaked: ${parts.join('; ')}` : `cluster ${r.cluster}: nothing leaked`) + note
  );
}

// The boto3 side. Tag key and group naming follow DESIGN.md (State): `starcluster:cluster=NAME`,
// security group and placement group `@sc-NAME`, Name tags `NAME-master`, `NAME-node001`...
const SCRIPT = String.raw`
import json, sys, boto3
name = sys.argv[1]
ec2 = boto3.client("ec2")
tag = [{"Name": "tag:starcluster:cluster", "Values": [name]}]
out = {"instances": [], "securityGroups": [], "volumes": [], "spotRequests": [], "placementGroups": [], "keyPairs": []}
seen = set()
def tags(o):
    return {t["Key"]: t["Value"] for t in o.get("Tags", []) or []}
for flt in (tag, [{"Name": "tag:Name", "Values": [name + "-master", name + "-node*"]}]):
    for page in ec2.get_paginator("describe_instances").paginate(Filters=flt):
        for res in page["Reservations"]:
            for i in res["Instances"]:
                st = i["State"]["Name"]
                t = tags(i)
                # A Name-tag match counts only when the cluster tag agrees or is missing.
                if t.get("starcluster:cluster", name) != name: continue
                if st != "terminated" and i["InstanceId"] not in seen:
                    seen.add(i["InstanceId"])
                    out["instances"].append({"id": i["InstanceId"], "state": st, "name": t.get("Name")})
groups = {}
for flt in (tag, [{"Name": "group-name", "Values": ["@sc-" + name]}]):
    for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]:
        groups[g["GroupId"]] = g["GroupName"]
out["securityGroups"] = [{"id": k, "name": v} for k, v in sorted(groups.items())]
for v in ec2.describe_volumes(Filters=tag)["Volumes"]:
    if v["State"] not in ("deleted",):
        out["volumes"].append({"id": v["VolumeId"], "state": v["State"]})
for s in ec2.describe_spot_instance_requests(Filters=tag)["SpotInstanceRequests"]:
    if s["State"] in ("open", "active"):
        out["spotRequests"].append({"id": s["SpotInstanceRequestId"], "state": s["State"]})
pgs = {}
out["unchecked"] = []
try:
    for p in ec2.describe_placement_groups()["PlacementGroups"]:
        if p.get("State") == "deleted": continue
        if p["GroupName"] == "@sc-" + name or tags(p).get("starcluster:cluster") == name:
            pgs[p["GroupName"]] = p.get("State", "?")
except Exception as e:
    # LocalStack 2026.3 does not implement DescribePlacementGroups: say so, never pretend.
    if "not been implemented" not in str(e): raise
    out["unchecked"].append("placement groups (DescribePlacementGroups not implemented by this endpoint)")
out["placementGroups"] = [{"name": k, "state": v} for k, v in sorted(pgs.items())]
try:
    for k in ec2.describe_key_pairs(Filters=tag)["KeyPairs"]:
        out["keyPairs"].append({"name": k["KeyName"]})
except Exception:
    pass
print(json.dumps(out))
`;

export interface ZeroLeakOptions {
  endpoint: string;
  region?: string;
  /** Ask the fleet too (default: when the fleet script exists and we are root). */
  fleet?: boolean;
  timeoutMs?: number;
}

export async function checkZeroLeak(cluster: string, opts: ZeroLeakOptions): Promise<LeakReport> {
  const timeout = opts.timeoutMs ?? 60_000;
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: opts.endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: opts.region ?? 'us-east-1',
    AWS_REGION: opts.region ?? 'us-east-1',
  };
  const { stdout } = await run(LOCALSTACK_PYTHON, ['-c', SCRIPT, cluster], { env, timeout });
  const cloud = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Omit<
    LeakReport,
    'cluster' | 'fleetHosts' | 'fleetChecked'
  >;
  const report: LeakReport = { cluster, ...cloud, fleetHosts: [], fleetChecked: false };
  const wantFleet = opts.fleet ?? (existsSync(FLEET) && process.getuid?.() === 0);
  if (wantFleet) {
    const status = await fleetStatus(opts.endpoint, timeout);
    if (status.reconcilerRunning) {
      report.fleetChecked = true;
      report.fleetHosts = status.hosts
        .filter((h) => h.cluster === cluster)
        .map((h) => ({ instanceId: h.instanceId, address: h.address }));
    }
  }
  return report;
}

export interface FleetHost {
  instanceId: string;
  cluster: string;
  address: string;
  state: string;
}

/** Parses `localstack/fleet status`: a reconciler line, a header, then one line per host. */
export async function fleetStatus(
  endpoint: string,
  timeoutMs = 30_000,
): Promise<{ reconcilerRunning: boolean; hosts: FleetHost[] }> {
  const { stdout } = await run(FLEET, ['status'], {
    env: { ...process.env, AWS_ENDPOINT_URL: endpoint },
    timeout: timeoutMs,
  });
  const lines = stdout.split('\n').filter((l) => l.trim());
  const reconcilerRunning = /reconciler: running/.test(lines[0] ?? '');
  const hosts: FleetHost[] = [];
  for (const line of lines.slice(2)) {
    const [instanceId, cluster, address, state] = line.trim().split(/\s+/);
    if (instanceId && cluster && address) hosts.push({ instanceId, cluster, address, state: state ?? '?' });
  }
  return { reconcilerRunning, hosts };
}
