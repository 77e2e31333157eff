import { describe, expect, it } from 'vitest';
import { resolveImagesWith, type ImageCatalog } from '../../../src/cloud/ec2/images.js';
import { LocalProvider } from '../../../src/cloud/local/index.js';
import type {
  ClusterRecord,
  ImageRequest,
  ImageResolution,
  LaunchSpec,
  NodeRecord,
  Provider,
} from '../../../src/cloud/provider.js';
import { defaultTemplate, emptyConfig } from '../../../src/model/template.js';
import { addNodes } from '../../../src/cluster/resize.js';
import { renderPlan, startCluster } from '../../../src/cluster/start.js';
import type { ClusterTemplate } from '../../../src/config/types.js';
import { StarclusterError } from '../../../src/errors.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

/**
 * `start` resolves image aliases through the provider before it creates anything, launches the
 * resolved ids with the image's login user, and stops at validation, creating nothing, when an
 * image does not fit its instance type. The provider here is a recording fake whose image rules
 * are the EC2 provider's own (resolveImagesWith) over fixed EC2/SSM answers.
 */
const catalog: ImageCatalog = {
  region: 'us-east-1',
  describeImage: async (id) =>
    ({
      'ami-0aaa000000000000a': { name: 'debian-12-amd64-20250101-1', architecture: 'x86_64', state: 'available' },
      'ami-0bbb000000000000b': { name: 'debian-12-arm64-20250101-1', architecture: 'arm64', state: 'available' },
    })[id],
  describeInstanceType: async (type) => {
    const architectures = ({ 't3.micro': ['x86_64'], 'm7g.large': ['arm64'] } as Record<string, string[]>)[type];
    return architectures && { architectures, virtualizationTypes: ['hvm'], rootDeviceTypes: ['ebs'] };
  },
  parameter: async (name) =>
    ({
      '/aws/service/debian/release/12/latest/amd64': 'ami-0aaa000000000000a',
      '/aws/service/debian/release/12/latest/arm64': 'ami-0bbb000000000000b',
    })[name],
};

/** A local provider that launches nothing: it records the launches and answers with what it recorded. */
class RecordingProvider extends LocalProvider {
  readonly launches: LaunchSpec[] = [];
  readonly made: NodeRecord[] = [];
  resolveImages(requests: readonly ImageRequest[]): Promise<ImageResolution> {
    return resolveImagesWith(catalog, requests);
  }
  override async listNodes(): Promise<NodeRecord[]> {
    return this.made;
  }
  override async listClusters(): Promise<string[]> {
    return [];
  }
  override async describeNodes(ids: string[]): Promise<NodeRecord[]> {
    return this.made.filter((n) => ids.includes(n.id));
  }
  override async describeCluster(): Promise<ClusterRecord> {
    return {};
  }
  override async launch(spec: LaunchSpec): Promise<NodeRecord[]> {
    this.launches.push(spec);
    const nodes = spec.aliases.map((alias) => ({
      id: `i-${alias}`,
      cluster: spec.cluster,
      alias,
      role: spec.role,
      state: 'running' as const,
      instanceType: spec.instanceType,
      imageId: spec.imageId,
      ...(spec.loginUser ? { loginUser: spec.loginUser } : {}),
      tags: {},
    }));
    this.made.push(...nodes);
    return nodes;
  }
  override async waitRunning(ids: string[]): Promise<NodeRecord[]> {
    return this.made.filter((n) => ids.includes(n.id));
  }
  override async terminate(): Promise<void> {}
}

function template(over: Partial<ClusterTemplate>): ClusterTemplate {
  // provider local: the offline EC2 checks (key pair, key file) are not what these tests are about.
  return defaultTemplate({ name: 't', provider: 'local', clusterSize: 3, nodeInstanceType: 't3.micro', ...over });
}

function start(provider: Provider, over: Partial<ClusterTemplate>, mode: 'create' | 'plan' = 'create') {
  return startCluster({
    name: 'imgs',
    template: template(over),
    config: emptyConfig(),
    io: new RecordingIoHost(),
    provider,
    mode,
    skipEngines: true,
  });
}

describe('start with image aliases', () => {
  it('launches the AMI the alias resolves to for each instance type, with the login user', async () => {
    const provider = new RecordingProvider();
    await start(provider, { nodeImageId: 'debian-12', masterInstanceType: 'm7g.large' });
    expect(provider.launches.map((l) => [l.role, l.instanceType, l.imageId, l.loginUser])).toEqual([
      ['master', 'm7g.large', 'ami-0bbb000000000000b', 'admin'],
      ['node', 't3.micro', 'ami-0aaa000000000000a', 'admin'],
    ]);
  });

  it('shows alias → id in --plan, and LOGIN_USER wins over the image guess', async () => {
    const provider = new RecordingProvider();
    const result = await start(provider, { nodeImageId: 'debian-12', loginUser: 'ops' }, 'plan');
    const create = result.plan.actions.find((a) => a.resource === 'instances');
    expect(create).toMatchObject({ imageId: 'ami-0aaa000000000000a', requestedImage: 'debian-12' });
    expect(renderPlan(result.plan)).toContain(
      'create instances node001,node002: 2 × t3.micro debian-12 → ami-0aaa000000000000a on-demand, login ops',
    );
    expect(provider.launches).toEqual([]);
  });

  it('fails validation for an x86 AMI on a Graviton type, exit 3, and creates nothing', async () => {
    const provider = new RecordingProvider();
    const failure = await start(provider, { nodeImageId: 'ami-0aaa000000000000a', nodeInstanceType: 'm7g.large' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(StarclusterError.is(failure)).toBe(true);
    const error = failure as StarclusterError;
    expect(error.code).toBe('ArchitectureMismatch');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('nothing was created');
    expect(error.details.join('\n')).toMatch(
      /ami-0aaa000000000000a .* is x86_64, but instance type m7g\.large runs arm64/,
    );
    expect(provider.launches).toEqual([]);
  });

  it("addnode -i ALIAS launches the id for the new nodes' type; without -i the reference node's login user is kept", async () => {
    const provider = new RecordingProvider();
    await start(provider, { nodeImageId: 'debian-12', clusterSize: 2 });
    const io = new RecordingIoHost();
    await addNodes({ name: 'imgs', provider, io, imageId: 'debian-12', instanceType: 'm7g.large', skipHooks: true });
    await addNodes({ name: 'imgs', provider, io, skipHooks: true });
    expect(provider.launches.slice(2).map((l) => [l.aliases.join(), l.instanceType, l.imageId, l.loginUser])).toEqual([
      ['node002', 'm7g.large', 'ami-0bbb000000000000b', 'admin'],
      ['node003', 't3.micro', 'ami-0aaa000000000000a', 'admin'],
    ]);
  });

  it('names an unknown alias given on the command line (-n) with the nearest one', async () => {
    const failure = await start(new RecordingProvider(), { nodeImageId: 'ubuntu-24.4' }).catch((e: unknown) => e);
    expect((failure as StarclusterError).details.join('\n')).toContain('(did you mean ubuntu-24.04?)');
    expect((failure as StarclusterError).exitCode).toBe(3);
  });
});
