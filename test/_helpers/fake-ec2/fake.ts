import {
  EC2Client,
  type CreateTagsCommandInput,
  type DeleteTagsCommandInput,
  type ServiceOutputTypes,
} from '@aws-sdk/client-ec2';
import { Ec2Api } from '../../../src/cloud/ec2/api.js';
import { Ec2Provider, type Ec2ProviderOptions } from '../../../src/cloud/ec2/provider.js';
import type { QuotaReader } from '../../../src/cloud/ec2/quota.js';
import { ec2Error, notFoundCode } from './errors.js';
import { Faults } from './faults.js';
import { groupRoutes } from './groups.js';
import { instanceRoutes, LIVE } from './instances.js';
import { keyRoutes } from './keys.js';
import { placeRoutes } from './places.js';
import { checkTags, route, type Routes } from './routes.js';
import { storageRoutes } from './storage.js';
import { Store, type FakeEc2Options } from './store.js';
import { DEFAULT_VPC } from './catalog.js';

/**
 * An in-memory EC2 (and the SSM parameters image aliases read) behind a real `EC2Client`: a
 * middleware at the top of the client's stack answers each command from the store, so our
 * Ec2Api/Ec2Provider code, the SDK's paginators and its waiters all run unchanged over it.
 * What it models and what it does not: README.md beside this file.
 */
export class FakeEc2 {
  readonly store: Store;
  readonly faults = new Faults();
  private readonly routes: Routes;

  constructor(options: FakeEc2Options = {}) {
    this.store = new Store(options);
    const id = this.store.newId('sg');
    this.store.groups.set(id, {
      id,
      state: 'available',
      tags: {},
      created: this.store.tick(),
      name: 'default',
      description: 'default VPC security group',
      vpcId: DEFAULT_VPC,
      ingress: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: id }] }],
    });
    this.routes = {
      ...instanceRoutes(this.store),
      ...groupRoutes(this.store),
      ...placeRoutes(this.store),
      ...keyRoutes(this.store),
      ...storageRoutes(this.store),
      ...this.tagRoutes(),
    };
  }

  get region(): string {
    return this.store.catalog.region;
  }

  /** The actions the fake answers (every other one is refused as `UnsupportedOperation`). */
  actions(): string[] {
    return Object.keys(this.routes).sort();
  }

  /** Every call so far, in order: action, input, the error code it was answered with. */
  get calls() {
    return this.faults.calls;
  }

  /** Answers one EC2 action: through the fault plan, then the store; the answer is a copy. */
  async send(action: string, input: unknown): Promise<unknown> {
    return this.faults.answer(action, input, () => {
      const handler = this.routes[action];
      if (!handler) throw ec2Error('UnsupportedOperation', `the fake EC2 does not model ${action}`);
      return structuredClone(handler(structuredClone(input)));
    });
  }

  /** A real EC2Client whose every command is answered here (nothing leaves the process). */
  client(): EC2Client {
    // As Ec2Api does: the SDK would print a Node-version notice to stderr itself.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const client = new EC2Client({
      region: this.region,
      credentials: { accessKeyId: 'AKIAFAKEEC2', secretAccessKey: 'fake-ec2-secret' },
      maxAttempts: 1,
    });
    client.middlewareStack.add(
      (_next, context) => async (args) => {
        const action = (context.commandName ?? '').replace(/Command$/, '');
        const answer = await this.send(action, args.input);
        // The handlers answer with the command's own output shape (see routes.ts).
        const output = { ...(answer as object), $metadata: { httpStatusCode: 200, requestId: 'fake-ec2' } };
        return { output: output as ServiceOutputTypes, response: {} };
      },
      { step: 'initialize', priority: 'high', name: 'fakeEc2Answers' },
    );
    return client;
  }

  /** AWS's public SSM parameters (image aliases), read through the same fault plan as `ssm:GetParameter`. */
  readonly parameters = {
    get: (name: string): Promise<string | undefined> =>
      this.faults.answer('ssm:GetParameter', { Name: name }, () => this.store.catalog.parameters[name]),
  };

  /**
   * Service Quotas' vCPU quotas (on-demand and spot standard): the `vcpuLimit` EC2 enforces here, or
   * a million where none is set; read through the fault plan as `servicequotas:GetServiceQuota`.
   */
  readonly quotas: QuotaReader = {
    vcpuQuota: (code: string): Promise<number | undefined> =>
      this.faults.answer(
        'servicequotas:GetServiceQuota',
        { ServiceCode: 'ec2', QuotaCode: code },
        () => this.store.opts.vcpuLimit ?? 1_000_000,
      ),
  };

  /**
   * Our EC2 provider over this fake, with waits and retries that never sleep (the fake settles on
   * the next read): the real Ec2Provider and Ec2Api code runs, only the HTTP is gone.
   */
  provider(options: Ec2ProviderOptions = {}): Ec2Provider {
    return new Ec2Provider(new Ec2Api({ region: this.region }, this.client()), {
      parameters: this.parameters,
      quotas: this.quotas,
      waitTimeoutSeconds: 10,
      sgDeleteDelaysMs: [0, 0, 0, 0],
      tagRetryDelaysMs: [0, 0, 0, 0, 0],
      ...options,
    });
  }

  /**
   * What a cluster still owns, read from the store (not through our code): instances not
   * terminated, security and placement groups (tagged, or named `@sc-NAME`), volumes, open or
   * active spot requests, key pairs, images and snapshots tagged with the cluster. Empty: nothing leaked.
   */
  leftovers(cluster: string): string[] {
    const s = this.store;
    const ours = (tags: Record<string, string>) => tags['starcluster:cluster'] === cluster;
    const groupName = `@sc-${cluster}`;
    return [
      ...[...s.instances.values()]
        .filter((i) => ours(i.tags) && LIVE.includes(i.state))
        .map((i) => `instance ${i.id} (${i.state})`),
      ...[...s.groups.values()]
        .filter((g) => ours(g.tags) || g.name === groupName)
        .map((g) => `security group ${g.id} (${g.name})`),
      ...[...s.placementGroups.values()]
        .filter((p) => ours(p.tags) || p.name === groupName)
        .map((p) => `placement group ${p.name}`),
      ...[...s.volumes.values()].filter((v) => ours(v.tags)).map((v) => `volume ${v.id} (${v.state})`),
      ...[...s.spot.values()]
        .filter((r) => ours(r.tags) && ['open', 'active'].includes(r.state))
        .map((r) => `spot request ${r.id} (${r.state})`),
      ...[...s.keyPairs.values()].filter((k) => ours(k.tags)).map((k) => `key pair ${k.name}`),
      ...[...s.images.values()].filter((i) => ours(i.tags)).map((i) => `image ${i.id}`),
      ...[...s.snapshots.values()].filter((n) => ours(n.tags)).map((n) => `snapshot ${n.id}`),
    ];
  }

  /** Instances of a cluster that are not terminated, by alias tag. */
  liveInstances(cluster: string) {
    return [...this.store.instances.values()].filter(
      (i) => i.tags['starcluster:cluster'] === cluster && LIVE.includes(i.state),
    );
  }

  private tagRoutes(): Routes {
    const s = this.store;
    const target = (id: string) => {
      const instance = s.instances.get(id);
      const found = instance ? (s.sees(instance) ? instance : undefined) : s.tagged(id);
      if (!found) throw ec2Error(notFoundCode(id), `The ID '${id}' does not exist`);
      return found;
    };
    return {
      CreateTags: route<CreateTagsCommandInput>((input) => {
        const targets = (input.Resources ?? []).map(target);
        for (const t of targets) {
          const next = { ...t.tags };
          for (const tag of input.Tags ?? []) if (tag.Key !== undefined) next[tag.Key] = tag.Value ?? '';
          checkTags(next);
          t.tags = next;
        }
        return {};
      }),
      DeleteTags: route<DeleteTagsCommandInput>((input) => {
        for (const t of (input.Resources ?? []).map(target))
          for (const tag of input.Tags ?? []) if (tag.Key !== undefined) delete t.tags[tag.Key];
        return {};
      }),
    };
  }
}
