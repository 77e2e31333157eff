import type {
  DescribeInstancesCommandInput,
  GetConsoleOutputCommandInput,
  Instance,
  InstanceStateChange,
  ModifyInstanceAttributeCommandInput,
  RebootInstancesCommandInput,
  RunInstancesCommandInput,
  StartInstancesCommandInput,
  StopInstancesCommandInput,
  TerminateInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { dryRunOperation, ec2Error } from './errors.js';
import { matches, page, tagList } from './filters.js';
import { route, tagsFor, type Routes } from './routes.js';
import { createInstances, launchPlace, releaseTerminated } from './launch.js';
import type { InstanceRec, Store } from './store.js';

const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** Instance states that still hold their security group, placement group and quota. */
export const LIVE = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

export function toInstance(store: Store, i: InstanceRec): Instance {
  const spot = i.spotRequestId !== undefined;
  return {
    InstanceId: i.id,
    ImageId: i.imageId,
    InstanceType: i.type as Instance['InstanceType'],
    State: { Name: i.state as 'running', Code: STATE_CODES[i.state] ?? 0 },
    Placement: { AvailabilityZone: i.zone, ...(i.placementGroup ? { GroupName: i.placementGroup } : {}) },
    PrivateIpAddress: i.privateIp,
    ...(i.state === 'running' ? { PublicIpAddress: i.publicIp } : {}),
    ...(i.keyName ? { KeyName: i.keyName } : {}),
    LaunchTime: i.launchTime,
    AmiLaunchIndex: i.launchIndex,
    SubnetId: i.subnetId,
    VpcId: i.vpcId,
    Architecture: (store.typeInfo(i.type)?.architecture ?? 'x86_64') as 'x86_64',
    SecurityGroups: i.groupIds.map((id) => ({ GroupId: id, GroupName: store.groups.get(id)?.name ?? '' })),
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { VolumeId: i.rootVolumeId, Status: 'attached', DeleteOnTermination: true } },
    ],
    ...(spot ? { InstanceLifecycle: 'spot' as const, SpotInstanceRequestId: i.spotRequestId } : {}),
    ...(i.iamProfile ? { IamInstanceProfile: { Arn: i.iamProfile } } : {}),
    Tags: tagList(i.tags),
  };
}

function instanceFields(i: InstanceRec) {
  return {
    'instance-state-name': [i.state],
    'instance-id': [i.id],
    'instance-type': [i.type],
    'image-id': [i.imageId],
    'availability-zone': [i.zone],
    'key-name': [i.keyName],
    'placement-group-name': [i.placementGroup],
    'instance.group-id': i.groupIds,
    'subnet-id': [i.subnetId],
    'vpc-id': [i.vpcId],
    'spot-instance-request-id': [i.spotRequestId],
    'private-ip-address': [i.privateIp],
  };
}

/** The instances a call names: every id known and seen yet, else EC2's NotFound for the first that is not. */
export function named(store: Store, ids: readonly string[]): InstanceRec[] {
  return ids.map((id) => {
    if (!/^i-[0-9a-f]+$/.test(id)) throw ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    const i = store.instances.get(id);
    if (!i || !store.sees(i)) throw ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    return i;
  });
}

function describeInstances(store: Store, input: DescribeInstancesCommandInput) {
  // One read of every instance: passing states move on (see Store.read).
  for (const i of store.instances.values()) store.read(i);
  const chosen = input.InstanceIds?.length
    ? named(store, input.InstanceIds)
    : [...store.instances.values()].filter((i) => store.sees(i));
  const found = chosen.filter((i) => matches(input.Filters, instanceFields(i), i.tags));
  const { items, next } = page(found, input.NextToken, store.opts.pageSize);
  const byReservation = new Map<string, Instance[]>();
  for (const i of items)
    byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), toInstance(store, i)]);
  return {
    Reservations: [...byReservation].map(([id, instances]) => ({
      ReservationId: id,
      OwnerId: '123456789012',
      Instances: instances,
    })),
    ...(next ? { NextToken: next } : {}),
  };
}

function change(i: InstanceRec, previous: string): InstanceStateChange {
  return {
    InstanceId: i.id,
    PreviousState: { Name: previous as 'running', Code: STATE_CODES[previous] ?? 0 },
    CurrentState: { Name: i.state as 'running', Code: STATE_CODES[i.state] ?? 0 },
  };
}

function terminate(store: Store, i: InstanceRec): void {
  if (i.state === 'terminated' || i.state === 'shutting-down') return;
  store.begin(i, 'shutting-down', 'terminated', () => releaseTerminated(store, i));
}

/**
 * One state change of the named instances (all of them in `allowed` states, else
 * IncorrectInstanceState): `act` moves each one; the answer lists previous and current states.
 */
function transition(
  store: Store,
  ids: string[] | undefined,
  allowed: string[] | undefined,
  act: (i: InstanceRec) => void,
) {
  const targets = named(store, ids ?? []);
  for (const i of targets)
    if (allowed && !allowed.includes(i.state))
      throw ec2Error(
        'IncorrectInstanceState',
        `The instance '${i.id}' is in state '${i.state}', not ${allowed.join(' or ')}`,
      );
  return targets.map((i) => {
    const previous = i.state;
    act(i);
    return change(i, previous);
  });
}

function stateRoutes(store: Store): Routes {
  return {
    TerminateInstances: route<TerminateInstancesCommandInput>((input) => ({
      TerminatingInstances: transition(store, input.InstanceIds, undefined, (i) => terminate(store, i)),
    })),
    StopInstances: route<StopInstancesCommandInput>((input) => ({
      StoppingInstances: transition(store, input.InstanceIds, ['running', 'stopping', 'stopped'], (i) => {
        if (i.state === 'running') store.begin(i, 'stopping', 'stopped');
      }),
    })),
    StartInstances: route<StartInstancesCommandInput>((input) => ({
      StartingInstances: transition(store, input.InstanceIds, ['stopped', 'pending', 'running'], (i) => {
        if (i.state === 'stopped') store.begin(i, 'pending', 'running');
      }),
    })),
    RebootInstances: route<RebootInstancesCommandInput>((input) => {
      transition(store, input.InstanceIds, ['running'], () => undefined);
      return {};
    }),
  };
}

function runInstances(store: Store, input: RunInstancesCommandInput) {
  const again = input.ClientToken ? store.tokens.get(input.ClientToken) : undefined;
  if (again && !input.DryRun) {
    // Idempotency: the same token answers with what the first call made.
    const made = again.flatMap((id) => store.instances.get(id) ?? []);
    return { ReservationId: made[0]?.reservationId, Instances: made.map((i) => toInstance(store, i)) };
  }
  const allowed = ['instance', 'volume', 'spot-instances-request', 'network-interface'];
  const tags = {
    instance: tagsFor(input.TagSpecifications, 'instance', allowed),
    volume: tagsFor(input.TagSpecifications, 'volume', allowed),
    spot: tagsFor(input.TagSpecifications, 'spot-instances-request', allowed),
  };
  const place = launchPlace(store, input);
  if (input.DryRun) throw dryRunOperation('RunInstances');
  const made = createInstances(store, input, place, tags);
  if (input.ClientToken)
    store.tokens.set(
      input.ClientToken,
      made.map((i) => i.id),
    );
  return { ReservationId: made[0]?.reservationId, Instances: made.map((i) => toInstance(store, i)) };
}

export function instanceRoutes(store: Store): Routes {
  return {
    RunInstances: route<RunInstancesCommandInput>((input) => runInstances(store, input)),
    DescribeInstances: route<DescribeInstancesCommandInput>((input) => describeInstances(store, input)),
    ...stateRoutes(store),
    ModifyInstanceAttribute: route<ModifyInstanceAttributeCommandInput>((input) => {
      modifyInstanceGroups(store, input);
      return {};
    }),
    GetConsoleOutput: route<GetConsoleOutputCommandInput>((input) => {
      const [i] = named(store, [input.InstanceId ?? '']);
      const text = `fake EC2 console of ${i?.id ?? ''}\ncloud-init finished\n`;
      return { InstanceId: i?.id, Output: Buffer.from(text).toString('base64'), Timestamp: new Date() };
    }),
  };
}

/** ModifyInstanceAttribute's Groups (the only attribute modelled): at least one, each a group of the instance's VPC. */
function modifyInstanceGroups(store: Store, input: ModifyInstanceAttributeCommandInput): void {
  const [i] = named(store, [input.InstanceId ?? '']);
  if (!i || !input.Groups)
    throw ec2Error('UnsupportedOperation', 'the fake EC2 models only Groups of ModifyInstanceAttribute');
  if (input.Groups.length === 0)
    throw ec2Error('InvalidParameterValue', 'Value () for parameter groupId is invalid. The value cannot be empty');
  if (i.state === 'terminated' || i.state === 'shutting-down')
    throw ec2Error('IncorrectInstanceState', `The instance '${i.id}' is not in a state from which it can be modified.`);
  for (const id of input.Groups)
    if (store.groups.get(id)?.vpcId !== i.vpcId)
      throw ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist in VPC '${i.vpcId}'`);
  i.groupIds = [...input.Groups];
}
