import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeRecord, Provider } from '../../../src/cloud/provider.js';
import type { ClusterContext } from '../../../src/model/context.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { defaultTemplate, emptyConfig } from '../../../src/model/template.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../../../src/remote/types.js';
import type { NodeAccess, SetupNode } from '../../../src/setup/session.js';
import { CONF_CHANGED, NODE_RESOURCES_COMMAND } from '../../../src/setup/slurm.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

/**
 * A NodeAccess that records every command per node and answers from a script. Used where the
 * real thing cannot run on this machine: NFS (the kernel has no NFS server) and EBS volumes
 * (LocalStack attaches nothing). Everything that can run for real is tested in the fleet
 * (test/integration/fleet).
 */
export interface Recorded {
  node: string;
  user: string;
  command: string;
}

export class RecordingAccess implements NodeAccess {
  readonly commands: Recorded[] = [];
  readonly waited: string[] = [];
  constructor(
    private readonly answer: (node: string, command: string) => Partial<ExecResult> | undefined = () => undefined,
  ) {}

  host(node: SetupNode, user: string): RemoteHost {
    const exec = (command: string, _options?: ExecOptions): Promise<ExecResult> => {
      this.commands.push({ node: node.alias, user, command });
      return Promise.resolve({ stdout: '', stderr: '', code: 0, ...this.answer(node.alias, command) });
    };
    return {
      alias: node.alias,
      address: node.address,
      user,
      exec,
      put: () => Promise.resolve(),
      get: () => Promise.resolve(),
      writeFile: (path) => exec(`#writeFile ${path}`).then(() => undefined),
      readFile: () => Promise.resolve(Buffer.from('')),
    };
  }
  waitFor(node: SetupNode): Promise<void> {
    this.waited.push(node.alias);
    return Promise.resolve();
  }
  clusterKey(): Promise<{ privateKey: string; publicKey: string }> {
    return Promise.resolve({
      privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----',
      publicKey: 'ssh-ed25519 AAAACLUSTER starcluster-c1',
    });
  }
  loginKey(): Promise<string> {
    return Promise.resolve('ssh-rsa AAAALOGIN starcluster-login');
  }
  close(): void {}

  on(node: string): string[] {
    return this.commands.filter((c) => c.node === node).map((c) => c.command);
  }
}

/** Answers the few commands whose output setup reads. */
export function defaultAnswers(node: string, command: string): Partial<ExecResult> | undefined {
  if (command.includes('/etc/os-release'))
    return { stdout: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' };
  if (command.startsWith('id -u')) return { code: 1 };
  if (command.includes('stat -c')) return { stdout: '1001 1001\n' };
  if (command.startsWith('cat /etc/ssh/ssh_host_')) return { stdout: `ssh-ed25519 AAAAHOSTKEY${node} root@${node}\n` };
  if (command === NODE_RESOURCES_COMMAND)
    return {
      stdout: `NodeName=${node} CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=3911\n`,
    };
  if (command.includes('SC_SLURM_CONF')) return { stdout: `${CONF_CHANGED}\n` };
  return undefined;
}

export function record(
  alias: string,
  ip: string,
  role: 'master' | 'node' = alias === 'master' ? 'master' : 'node',
): NodeRecord {
  return {
    id: `i-${alias}`,
    cluster: 'c1',
    alias,
    role,
    state: 'running',
    instanceType: 't3.micro',
    privateIp: ip,
    publicIp: '54.0.0.1',
    tags: {},
  };
}

export function template(overrides: Partial<ClusterTemplate> = {}): ClusterTemplate {
  return defaultTemplate({
    name: 'small',
    provider: 'ec2',
    keyname: 'k',
    clusterSize: 3,
    publicIps: false,
    ...overrides,
  });
}

export function context(
  nodes: NodeRecord[],
  overrides: Partial<ClusterTemplate> = {},
  provider: Partial<Provider> = {},
): ClusterContext & { io: RecordingIoHost } {
  const config: StarclusterConfig = emptyConfig('/nonexistent/config');
  return {
    name: 'c1',
    template: template(overrides),
    config,
    provider: { kind: 'ec2', ...provider } as Provider, // only what setup uses
    io: new RecordingIoHost(),
    // Setup keeps the cluster's munge key here.
    stateDir: join(tmpdir(), `sc-unit-state-${process.pid}`),
    nodes,
  };
}
