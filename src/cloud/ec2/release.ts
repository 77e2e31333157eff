import { TAG_ALIAS, TAG_CLUSTER } from '../../model/tags.js';
import { securityGroupName } from '../security-group.js';
import type { Ec2Api } from './api.js';
import { fromTags } from './errors.js';
import type { Ec2Network } from './network.js';

/**
 * `removenode -k` on EC2: the instances leave the cluster and keep running. StarCluster left a kept
 * node in `@sc-NAME` (its membership was that group), so its `terminate` terminated the kept node
 * too. Here membership is the cluster tag, and a node that keeps the group would keep every rule of
 * the cluster (all traffic from its nodes) and block `terminate` (DependencyViolation). So each kept
 * instance:
 * - leaves the cluster's security group for its other groups, or the VPC's default group when it
 *   has none (an instance needs one; ModifyInstanceAttribute);
 * - loses the cluster tag (`removed-from-NAME`), with its root volume and spot request, so that
 *   `terminate` and cost allocation no longer count it;
 * - stays in the cluster placement group, which EC2 leaves only when stopped: `terminate` keeps
 *   that group while the instance runs in it, and says so.
 * Returns what the user should know about each instance.
 */
export async function releaseInstances(
  api: Ec2Api,
  network: Ec2Network,
  cluster: string,
  ids: readonly string[],
): Promise<string[]> {
  if (ids.length === 0) return [];
  const instances = await api.describeInstances([], [...ids]);
  const clusterGroups = new Set((await network.clusterGroups(cluster)).map((g) => g.id));
  const pg = securityGroupName(cluster);
  const notes: string[] = [];
  const retag: string[] = [];
  for (const i of instances) {
    const id = i.InstanceId ?? '';
    const name = `${fromTags(i.Tags)[TAG_ALIAS] ?? 'node'} (${id})`;
    const moved = await network.leaveGroups(i, clusterGroups);
    if (moved)
      notes.push(
        moved.vpcDefault
          ? `${name} moved from ${pg} to the VPC's default group ${moved.to.join('')}: it reaches the cluster no more, ` +
              'and SSH reaches it only if that group allows it (give it a group of yours: ' +
              `aws ec2 modify-instance-attribute --instance-id ${id} --groups sg-…)`
          : `${name} moved from ${pg} to its other security groups ${moved.to.join(', ')}`,
      );
    if (i.Placement?.GroupName === pg)
      notes.push(
        `${name} stays in placement group ${pg} (EC2 moves only a stopped instance out of one); ` +
          `\`starcluster terminate ${cluster}\` keeps that group while ${id} is in it`,
      );
    retag.push(id, ...(i.SpotInstanceRequestId ? [i.SpotInstanceRequestId] : []));
    const volumes = (i.BlockDeviceMappings ?? []).flatMap((b) => b.Ebs?.VolumeId ?? []);
    // Only the volumes the cluster made (its root volume): a volume of the user's keeps its tags.
    if (volumes.length)
      for (const v of await api.describeVolumes([{ Name: `tag:${TAG_CLUSTER}`, Values: [cluster] }], volumes))
        if (v.VolumeId) retag.push(v.VolumeId);
  }
  await api.createTags(retag, { [TAG_CLUSTER]: `removed-from-${cluster}` });
  return notes;
}
