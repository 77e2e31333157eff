import type { IpPermission } from '@aws-sdk/client-ec2';
import { defaultCatalog, type Catalog } from './catalog.js';

export interface FakeEc2Options {
  catalog?: Catalog;
  /**
   * Reads a resource in a passing state (pending, shutting-down, stopping, attaching, a pending
   * snapshot or image) take to settle. Default 0: the next read sees it settled, so the SDK's
   * waiters answer on their first poll and tests never sleep.
   */
  settleReads?: number;
  /**
   * Eventual consistency: calls that name a new instance (CreateTags, DescribeInstances) and do not
   * see it yet, after RunInstances made it. Default 0.
   */
  invisibleCalls?: number;
  /** Items per page of the paginated listings (default: everything on one page). */
  pageSize?: number;
  /** The account's vCPU quota across live instances: VcpuLimitExceeded beyond it. Default: none. */
  vcpuLimit?: number;
  /** Zones with no spare capacity: RunInstances there fails with InsufficientInstanceCapacity. */
  noCapacity?: string[];
  /** What a launched instance settles into (a spot instance reclaimed at once: terminated). Default running. */
  launchOutcome?: (instance: InstanceRec) => 'running' | 'terminated';
}

export type Tags = Record<string, string>;

/** A resource in a passing state: where it goes, after how many more reads, and what then happens. */
export interface Settling {
  to: string;
  reads: number;
  then?: () => void;
}

interface Rec {
  id: string;
  state: string;
  tags: Tags;
  settling?: Settling;
  created: number;
}

export interface InstanceRec extends Rec {
  imageId: string;
  type: string;
  zone: string;
  subnetId: string;
  vpcId: string;
  privateIp: string;
  publicIp: string;
  keyName?: string;
  groupIds: string[];
  placementGroup?: string;
  launchIndex: number;
  reservationId: string;
  launchTime: Date;
  spotRequestId?: string;
  rootVolumeId: string;
  iamProfile?: string;
  userData?: string;
  /** Calls that still do not see it (eventual consistency). */
  hiddenFor: number;
}

export interface GroupRec extends Rec {
  name: string;
  description: string;
  vpcId: string;
  ingress: IpPermission[];
}

export interface PlacementGroupRec extends Rec {
  name: string;
  strategy: string;
}

export interface KeyPairRec extends Rec {
  name: string;
  fingerprint: string;
  type: string;
}

export interface VolumeRec extends Rec {
  size: number;
  zone: string;
  type: string;
  snapshotId?: string;
  attachment?: { instanceId: string; device: string; state: string; deleteOnTermination: boolean };
}

export interface SnapshotRec extends Rec {
  volumeId: string;
  size: number;
  description: string;
}

export interface ImageRec extends Rec {
  name: string;
  architecture: string;
  owner: string;
  description?: string;
  snapshotIds: string[];
}

export interface SpotRec extends Rec {
  instanceId?: string;
  type: string;
  price: string;
  zone: string;
  status: string;
}

/** Everything the fake EC2 holds. Handlers change it; tests may read it (and set states) directly. */
export class Store {
  readonly catalog: Catalog;
  readonly opts: FakeEc2Options;
  private seq = 0;
  private ip = 10;
  readonly instances = new Map<string, InstanceRec>();
  /** RunInstances ClientToken → the instances that launch made (idempotency). */
  readonly tokens = new Map<string, string[]>();
  readonly groups = new Map<string, GroupRec>();
  readonly placementGroups = new Map<string, PlacementGroupRec>();
  readonly keyPairs = new Map<string, KeyPairRec>();
  readonly volumes = new Map<string, VolumeRec>();
  readonly snapshots = new Map<string, SnapshotRec>();
  readonly images = new Map<string, ImageRec>();
  readonly spot = new Map<string, SpotRec>();

  constructor(opts: FakeEc2Options = {}) {
    this.opts = opts;
    this.catalog = opts.catalog ?? defaultCatalog();
    for (const i of this.catalog.images)
      this.images.set(i.id, {
        id: i.id,
        state: 'available',
        tags: {},
        created: 0,
        name: i.name,
        architecture: i.architecture,
        owner: i.owner,
        snapshotIds: [],
      });
  }

  /** A new id of EC2's form: prefix and 17 hex digits, increasing. */
  newId(prefix: string): string {
    this.seq += 1;
    return `${prefix}-${this.seq.toString(16).padStart(17, '0')}`;
  }

  /** Order of creation, for stable listings. */
  tick(): number {
    return ++this.seq;
  }

  nextPrivateIp(): string {
    this.ip += 1;
    return `10.0.${Math.floor(this.ip / 250)}.${this.ip % 250}`;
  }

  /** Starts a passing state: `state` now, `to` after `settleReads` more reads. */
  begin(rec: { state: string; settling?: Settling }, state: string, to: string, then?: () => void): void {
    rec.state = state;
    rec.settling = { to, reads: this.opts.settleReads ?? 0, ...(then ? { then } : {}) };
  }

  /** One read of the resource: a passing state moves on when its reads are used up. */
  read<R extends { state: string; settling?: Settling }>(rec: R): R {
    const s = rec.settling;
    if (!s) return rec;
    if (s.reads > 0) {
      s.reads -= 1;
      return rec;
    }
    rec.state = s.to;
    delete rec.settling;
    s.then?.();
    return rec;
  }

  /** Whether this call sees the instance yet (each call that would have seen it uses one up). */
  sees(instance: InstanceRec): boolean {
    if (instance.hiddenFor <= 0) return true;
    instance.hiddenFor -= 1;
    return false;
  }

  typeInfo(type: string) {
    return this.catalog.types.find((t) => t.type === type);
  }

  /** The resource with this id, whatever its kind (CreateTags). */
  tagged(id: string): { tags: Tags; state: string } | undefined {
    return (
      this.instances.get(id) ??
      this.groups.get(id) ??
      this.volumes.get(id) ??
      this.snapshots.get(id) ??
      this.images.get(id) ??
      this.spot.get(id) ??
      [...this.keyPairs.values()].find((k) => k.id === id) ??
      [...this.placementGroups.values()].find((p) => p.id === id)
    );
  }
}
