import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { NodeRecord } from '../cloud/provider.js';
import type { ClusterContext } from '../model/context.js';
import { ConfigError, RemoteError, StarclusterError } from '../errors.js';
import { sshAddress } from '../remote/address.js';
import { clusterKeyPair, publicKeyLine, readPrivateKey, type KeyPairText } from '../remote/keys.js';
import { SshPool } from '../remote/pool.js';
import type { RemoteHost } from '../remote/types.js';
import type { WaitForSshOptions } from '../remote/wait.js';
import { loginCandidates, waitForRoot } from './login.js';
import { installPackages } from './packages.js';
import type { PluginNode } from './plugins.js';

/**
 * How setup reaches nodes. The real one is an SshPool with the cluster's pinned known_hosts;
 * unit tests pass a recording one (see test/unit/setup), because NFS and EBS cannot run here.
 */
export interface NodeAccess {
  host(node: SetupNode, user: string): RemoteHost;
  waitFor(node: SetupNode, options: WaitForSshOptions): Promise<void>;
  /** The per-cluster key for root and the cluster user between nodes (not the EC2 key). */
  clusterKey(): Promise<KeyPairText>;
  /** The public half of the key we log in with, also authorized for the cluster user (as StarCluster). */
  loginKey(): Promise<string>;
  close(): void;
}

export interface SetupNode {
  record: NodeRecord;
  /** `master`, `node001`... */
  alias: string;
  /** The hostname: the alias, or `CLUSTER-alias` with DNS_PREFIX. */
  hostname: string;
  /** Where we SSH to. */
  address: string;
  /** The address other nodes use (the private IP). */
  privateIp: string;
}

export function knownHostsFile(ctx: Pick<ClusterContext, 'stateDir'>): string {
  return join(ctx.stateDir, 'known_hosts');
}

export function toSetupNode(ctx: Pick<ClusterContext, 'name' | 'template'>, record: NodeRecord): SetupNode {
  const address = sshAddress(record, ctx.template.publicIps);
  return {
    record,
    alias: record.alias,
    hostname: ctx.template.dnsPrefix ? `${ctx.name}-${record.alias}` : record.alias,
    address,
    privateIp: record.privateIp ?? address,
  };
}

/** The private key we log in with: the template's [key], else the [key] named like the node's key pair. */
export function privateKeyPath(ctx: Pick<ClusterContext, 'template' | 'config' | 'nodes'>): string {
  if (ctx.template.key?.location) return ctx.template.key.location;
  const name = ctx.template.keyname ?? ctx.nodes.find((n) => n.keyName)?.keyName;
  const key = name ? ctx.config.keys.get(name) : undefined;
  if (!key) {
    throw new ConfigError(
      'KeyNotConfigured',
      `no [key ${name ?? '?'}] section with KEY_LOCATION for this cluster's key pair`,
      {
        hint: `add [key ${name ?? 'NAME'}] with KEY_LOCATION = path of its private key to the config`,
      },
    );
  }
  return key.location;
}

/** The real access: one SshPool per operation, the cluster's known_hosts, the cluster key in its state folder. */
export async function sshAccess(ctx: ClusterContext, concurrency = 16): Promise<NodeAccess> {
  const privateKey = await readPrivateKey(privateKeyPath(ctx));
  const pool = new SshPool({ privateKey, knownHostsFile: knownHostsFile(ctx), concurrency });
  const loginKey = publicKeyLine(privateKey, 'starcluster-login');
  let key: Promise<KeyPairText> | undefined;
  return {
    host: (node, user) => pool.host({ alias: node.alias, address: node.address, instanceId: node.record.id, user }),
    waitFor: async (node, options) => {
      const target = { alias: node.alias, address: node.address, instanceId: node.record.id };
      await waitForRoot(
        {
          connect: (user) => pool.connection({ ...target, user }),
          forget: (user) => pool.forget({ ...target, user }),
        },
        {
          alias: node.alias,
          loginKey,
          loginUsers: loginUsersFor(ctx, node),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          onRootEnabled: (user) =>
            ctx.io.notify({
              level: 'info',
              code: 'SC_SETUP_I2003',
              message: `${node.alias}: root login was refused; enabled it for the cluster's key through ${user}'s sudo`,
            }),
        },
      );
    },
    clusterKey: () => (key ??= clusterKeyPair(ctx.stateDir, ctx.name)),
    loginKey: () => Promise.resolve(loginKey),
    close: () => pool.close(),
  };
}

/** The login users to try when root is refused: LOGIN_USER, the one recorded for the node's AMI, then the usual ones. */
function loginUsersFor(ctx: Pick<ClusterContext, 'template'>, node: SetupNode): string[] {
  return loginCandidates(ctx.template.loginUser, node.record.loginUser);
}

export function pluginNode(access: NodeAccess, node: SetupNode): PluginNode {
  return {
    alias: node.hostname,
    id: node.record.id,
    role: node.record.role,
    ...(node.record.privateIp ? { privateIp: node.record.privateIp } : {}),
    record: node.record,
    ssh: access.host(node, 'root'),
    as: (user) => access.host(node, user),
    install: (packages, options) => installPackages(access.host(node, 'root'), packages, options),
  };
}

/**
 * Runs `work` on every node at once; waits for all, then fails with one RemoteError naming every
 * node that failed (so one bad node does not hide another).
 */
export async function onNodes<T>(
  step: string,
  nodes: readonly SetupNode[],
  work: (node: SetupNode) => Promise<T>,
): Promise<T[]> {
  const results = await Promise.allSettled(nodes.map(work));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ node: nodes[i]!, reason: r.reason as unknown }] : [],
  );
  if (failed.length > 0) {
    const abort = failed.find((f) => StarclusterError.is(f.reason) && f.reason.code === 'Interrupted');
    if (abort) throw abort.reason;
    const first = failed[0]!;
    const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    throw new RemoteError(
      'SetupFailed',
      `${step} failed on ${failed.map((f) => f.node.alias).join(', ')}: ${message(first.reason)}`,
      {
        details: failed.flatMap((f) => [
          `${f.node.alias}: ${message(f.reason)}`,
          ...(StarclusterError.is(f.reason) ? f.reason.details.map((d) => `  ${d}`) : []),
        ]),
        cause: first.reason,
      },
    );
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
