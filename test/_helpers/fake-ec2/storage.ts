import type {
  AttachVolumeCommandInput,
  CreateImageCommandInput,
  CreateSnapshotCommandInput,
  CreateVolumeCommandInput,
  DeleteSnapshotCommandInput,
  DeleteVolumeCommandInput,
  DeregisterImageCommandInput,
  DescribeImagesCommandInput,
  DescribeSnapshotsCommandInput,
  DescribeVolumesCommandInput,
} from '@aws-sdk/client-ec2';
import { ACCOUNT } from './catalog.js';
import { ec2Error } from './errors.js';
import { matches, page, tagList } from './filters.js';
import { named } from './instances.js';
import { route, tagsFor, type Routes } from './routes.js';
import type { ImageRec, SnapshotRec, Store, VolumeRec } from './store.js';

function toVolume(v: VolumeRec) {
  return {
    VolumeId: v.id,
    Size: v.size,
    State: v.state as 'available',
    AvailabilityZone: v.zone,
    VolumeType: v.type as 'gp3',
    ...(v.snapshotId ? { SnapshotId: v.snapshotId } : {}),
    CreateTime: new Date(v.created * 1000),
    Attachments: v.attachment
      ? [
          {
            VolumeId: v.id,
            InstanceId: v.attachment.instanceId,
            Device: v.attachment.device,
            State: v.attachment.state as 'attached',
            DeleteOnTermination: v.attachment.deleteOnTermination,
          },
        ]
      : [],
    Tags: tagList(v.tags),
  };
}

function volumeFields(v: VolumeRec) {
  return {
    'volume-id': [v.id],
    status: [v.state],
    size: [String(v.size)],
    'availability-zone': [v.zone],
    'snapshot-id': [v.snapshotId],
    'volume-type': [v.type],
    'attachment.status': [v.attachment?.state],
    'attachment.instance-id': [v.attachment?.instanceId],
  };
}

function volumeRoutes(store: Store): Routes {
  const volume = (id: string | undefined): VolumeRec => {
    const v = store.volumes.get(id ?? '');
    if (!v) throw ec2Error('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
    return v;
  };
  return {
    CreateVolume: route<CreateVolumeCommandInput>((input) => {
      const zone = input.AvailabilityZone ?? '';
      if (!store.catalog.zones.includes(zone))
        throw ec2Error('InvalidZone.NotFound', `Invalid availability zone: [${zone}]`);
      const snapshot = input.SnapshotId ? store.snapshots.get(input.SnapshotId) : undefined;
      if (input.SnapshotId && !snapshot)
        throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${input.SnapshotId}' does not exist.`);
      const size = input.Size ?? snapshot?.size ?? 0;
      if (size < 1 || (snapshot && size < snapshot.size))
        throw ec2Error(
          'InvalidParameterValue',
          `Volume size ${size} is invalid${snapshot ? ` for snapshot of ${snapshot.size} GiB` : ''}`,
        );
      const id = store.newId('vol');
      const tags = tagsFor(input.TagSpecifications, 'volume', ['volume']);
      const v: VolumeRec = {
        id,
        state: 'creating',
        tags,
        created: store.tick(),
        size,
        zone,
        type: input.VolumeType ?? 'gp2',
        ...(snapshot ? { snapshotId: snapshot.id } : {}),
      };
      store.begin(v, 'creating', 'available');
      store.volumes.set(id, v);
      return toVolume(v);
    }),
    DescribeVolumes: route<DescribeVolumesCommandInput>((input) => {
      for (const v of store.volumes.values()) {
        store.read(v);
        if (v.attachment?.state === 'attaching') v.attachment.state = 'attached';
      }
      const chosen = input.VolumeIds?.length ? input.VolumeIds.map(volume) : [...store.volumes.values()];
      const found = chosen.filter((v) => matches(input.Filters, volumeFields(v), v.tags));
      const { items, next } = page(found, input.NextToken, store.opts.pageSize);
      return { Volumes: items.map(toVolume), ...(next ? { NextToken: next } : {}) };
    }),
    AttachVolume: route<AttachVolumeCommandInput>((input) => {
      const v = volume(input.VolumeId);
      const [i] = named(store, [input.InstanceId ?? '']);
      if (!i || i.state !== 'running')
        throw ec2Error('IncorrectState', `Instance '${input.InstanceId}' is not 'running'.`);
      if (v.zone !== i.zone)
        throw ec2Error(
          'InvalidVolume.ZoneMismatch',
          `The volume '${v.id}' is not in the same availability zone as instance '${i.id}'`,
        );
      if (v.state === 'in-use') throw ec2Error('VolumeInUse', `${v.id} is already attached to an instance`);
      if (v.state !== 'available')
        throw ec2Error('IncorrectState', `Volume '${v.id}' is '${v.state}', not 'available'`);
      v.state = 'in-use';
      v.attachment = {
        instanceId: i.id,
        device: input.Device ?? '/dev/sdz',
        state: 'attaching',
        deleteOnTermination: false,
      };
      return { VolumeId: v.id, InstanceId: i.id, Device: v.attachment.device, State: 'attaching' as const };
    }),
    DeleteVolume: route<DeleteVolumeCommandInput>((input) => {
      const v = volume(input.VolumeId);
      if (v.state === 'in-use' || v.attachment)
        throw ec2Error('VolumeInUse', `Volume ${v.id} is currently attached to ${v.attachment?.instanceId}`);
      store.volumes.delete(v.id);
      return {};
    }),
  };
}

function toSnapshot(s: SnapshotRec) {
  return {
    SnapshotId: s.id,
    VolumeId: s.volumeId,
    VolumeSize: s.size,
    State: s.state as 'completed',
    Description: s.description,
    OwnerId: ACCOUNT,
    Progress: s.state === 'completed' ? '100%' : '0%',
    Tags: tagList(s.tags),
  };
}

function snapshotRoutes(store: Store): Routes {
  return {
    CreateSnapshot: route<CreateSnapshotCommandInput>((input) => {
      const v = store.volumes.get(input.VolumeId ?? '');
      if (!v) throw ec2Error('InvalidVolume.NotFound', `The volume '${input.VolumeId}' does not exist.`);
      const s: SnapshotRec = {
        id: store.newId('snap'),
        state: 'pending',
        tags: tagsFor(input.TagSpecifications, 'snapshot', ['snapshot']),
        created: store.tick(),
        volumeId: v.id,
        size: v.size,
        description: input.Description ?? '',
      };
      store.begin(s, 'pending', 'completed');
      store.snapshots.set(s.id, s);
      return toSnapshot(s);
    }),
    DescribeSnapshots: route<DescribeSnapshotsCommandInput>((input) => {
      for (const s of store.snapshots.values()) store.read(s);
      const missing = input.SnapshotIds?.find((id) => !store.snapshots.has(id));
      if (missing) throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${missing}' does not exist.`);
      const found = [...store.snapshots.values()]
        .filter((s) => !input.SnapshotIds?.length || input.SnapshotIds.includes(s.id))
        .filter(() => !input.OwnerIds?.length || input.OwnerIds.some((o) => o === 'self' || o === ACCOUNT))
        .filter((s) =>
          matches(input.Filters, { 'snapshot-id': [s.id], 'volume-id': [s.volumeId], status: [s.state] }, s.tags),
        );
      const { items, next } = page(found, input.NextToken, store.opts.pageSize);
      return { Snapshots: items.map(toSnapshot), ...(next ? { NextToken: next } : {}) };
    }),
    DeleteSnapshot: route<DeleteSnapshotCommandInput>((input) => {
      const id = input.SnapshotId ?? '';
      if (!store.snapshots.has(id)) throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
      const image = [...store.images.values()].find((i) => i.snapshotIds.includes(id));
      if (image) throw ec2Error('InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${image.id}`);
      store.snapshots.delete(id);
      return {};
    }),
  };
}

function toImage(i: ImageRec) {
  return {
    ImageId: i.id,
    Name: i.name,
    State: i.state as 'available',
    Architecture: i.architecture as 'x86_64',
    OwnerId: i.owner,
    Public: i.owner !== ACCOUNT,
    RootDeviceType: 'ebs' as const,
    VirtualizationType: 'hvm' as const,
    ...(i.description ? { Description: i.description } : {}),
    CreationDate: new Date(i.created * 1000).toISOString(),
    Tags: tagList(i.tags),
  };
}

function describeImages(store: Store, input: DescribeImagesCommandInput) {
  for (const i of store.images.values()) store.read(i);
  for (const id of input.ImageIds ?? []) {
    if (!/^ami-[0-9a-f]+$/.test(id)) throw ec2Error('InvalidAMIID.Malformed', `Invalid id: "${id}"`);
    if (!store.images.has(id)) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
  }
  const owners = (input.Owners ?? []).map((o) => (o === 'self' ? ACCOUNT : o));
  const found = [...store.images.values()]
    .filter((i) => !input.ImageIds?.length || input.ImageIds.includes(i.id))
    .filter((i) => !owners.length || owners.includes(i.owner))
    .filter((i) =>
      matches(
        input.Filters,
        { 'image-id': [i.id], name: [i.name], state: [i.state], architecture: [i.architecture], 'owner-id': [i.owner] },
        i.tags,
      ),
    );
  const { items, next } = page(found, input.NextToken, store.opts.pageSize);
  return { Images: items.map(toImage), ...(next ? { NextToken: next } : {}) };
}

function createImage(store: Store, input: CreateImageCommandInput) {
  const [instance] = named(store, [input.InstanceId ?? '']);
  const name = input.Name ?? '';
  if ([...store.images.values()].some((i) => i.owner === ACCOUNT && i.name === name))
    throw ec2Error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by another AMI`);
  const allowed = ['image', 'snapshot'];
  const snapshot: SnapshotRec = {
    id: store.newId('snap'),
    state: 'pending',
    tags: tagsFor(input.TagSpecifications, 'snapshot', allowed),
    created: store.tick(),
    volumeId: instance?.rootVolumeId ?? '',
    size: 8,
    description: `Created by CreateImage(${instance?.id}) for ${name}`,
  };
  store.begin(snapshot, 'pending', 'completed');
  store.snapshots.set(snapshot.id, snapshot);
  const image: ImageRec = {
    id: store.newId('ami'),
    state: 'pending',
    tags: tagsFor(input.TagSpecifications, 'image', allowed),
    created: store.tick(),
    name,
    architecture: store.typeInfo(instance?.type ?? '')?.architecture ?? 'x86_64',
    owner: ACCOUNT,
    ...(input.Description ? { description: input.Description } : {}),
    snapshotIds: [snapshot.id],
  };
  store.begin(image, 'pending', 'available');
  store.images.set(image.id, image);
  return { ImageId: image.id };
}

export function storageRoutes(store: Store): Routes {
  return {
    ...volumeRoutes(store),
    ...snapshotRoutes(store),
    DescribeImages: route<DescribeImagesCommandInput>((input) => describeImages(store, input)),
    CreateImage: route<CreateImageCommandInput>((input) => createImage(store, input)),
    DeregisterImage: route<DeregisterImageCommandInput>((input) => {
      const image = store.images.get(input.ImageId ?? '');
      if (!image) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${input.ImageId}]' does not exist`);
      // The image goes; its snapshots stay (as on EC2) until deleted.
      store.images.delete(image.id);
      return {};
    }),
  };
}
