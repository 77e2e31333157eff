import type { IoHost } from '../io-host.js';
import { throwIfAborted } from '../errors.js';
import { execChecked } from '../remote/types.js';
import { onNodes, type NodeAccess, type SetupNode } from '../setup/session.js';
import {
  nodeBinaryFor,
  nodeInstalledCommand,
  pullNodeCommand,
  remoteNodePath,
  unpackNodeCommand,
  uploadNodeGz,
  type NodeBinary,
} from './node-runtime.js';

/** A node the SSH runner probed: where it is, what it is, and the Node it runs the runtime with. */
export interface RemoteNodeInfo {
  alias: string;
  arch: string;
  cores: number;
  /** The Node the runtime runs with: `node` (the image's own, ≥ 20) or the path of ours; unset until known. */
  node: string | undefined;
}

/** What bringing Node to a set of nodes works with. */
export interface BringNodeContext {
  io: IoHost;
  access: NodeAccess;
  master: SetupNode;
  /** ROOT on the nodes (/opt/starcluster). */
  root: string;
}

/**
 * Gives every node without Node 20+ ours (see node-runtime.ts): compressed once here, uploaded once
 * to the master, pulled from the master by the other nodes over the private network, checked by
 * sha256 everywhere. Nodes that have Node 20+ get nothing. Sets `info.node` for each node.
 */
export async function bringNode(
  bc: BringNodeContext,
  targets: readonly SetupNode[],
  infos: RemoteNodeInfo[],
  signal?: AbortSignal,
): Promise<void> {
  const { io, access, root } = bc;
  const lacking = infos.filter((i) => !i.node);
  if (lacking.length === 0) return;
  const binaries = new Map<string, NodeBinary>();
  for (const arch of new Set(lacking.map((i) => i.arch))) binaries.set(arch, await nodeBinaryFor(arch));
  const id = 'engines-node';
  const title = `Bringing Node.js to ${lacking.length === 1 ? lacking[0]!.alias : `${lacking.length} nodes`}`;
  const nodesOf = (list: RemoteNodeInfo[]): SetupNode[] => targets.filter((t) => list.some((i) => i.alias === t.alias));
  io.progress({ id, state: 'start', title });
  try {
    // Already there from an earlier start (or resize)?
    const needs: RemoteNodeInfo[] = [];
    await onNodes('checking for our Node.js', nodesOf(lacking), async (n) => {
      const info = infos.find((i) => i.alias === n.alias)!;
      const binary = binaries.get(info.arch)!;
      const have = await execChecked(access.host(n, 'root'), nodeInstalledCommand(root, binary));
      if (have.stdout.trim() === 'ok') info.node = remoteNodePath(root, binary);
      else needs.push(info);
    });
    if (needs.length === 0) {
      io.progress({ id, state: 'done', title, detail: 'already installed' });
      return;
    }
    // Once to the master (it relays), then every node that needs it pulls it from there.
    const relayed = new Map<string, string>();
    for (const arch of new Set(needs.map((i) => i.arch))) {
      const binary = binaries.get(arch)!;
      io.progress({ id, state: 'update', title, detail: `uploading ${binary.source} to master` });
      relayed.set(arch, await uploadNodeGz(access.host(bc.master, 'root'), root, binary));
    }
    throwIfAborted(signal);
    io.progress({ id, state: 'update', title, detail: `installing on ${needs.map((i) => i.alias).join(', ')}` });
    await onNodes('installing Node.js', nodesOf(needs), async (n) => {
      const info = needs.find((i) => i.alias === n.alias)!;
      const binary = binaries.get(info.arch)!;
      await installNode(bc, n, binary, relayed.get(info.arch)!);
      info.node = remoteNodePath(root, binary);
    });
    const versions = [...binaries.values()].map((b) => `${b.version} linux-${b.arch}`).join(', ');
    io.progress({ id, state: 'done', title, detail: `Node ${versions} on ${needs.length} node(s)` });
  } catch (error) {
    io.progress({ id, state: 'fail', title, detail: (error as Error).message });
    throw error;
  }
}

/** The master unpacks the copy it holds; another node pulls it from the master, else gets it from here. */
async function installNode(bc: BringNodeContext, n: SetupNode, binary: NodeBinary, relayed: string): Promise<void> {
  const { root } = bc;
  const host = bc.access.host(n, 'root');
  if (n.alias === bc.master.alias) {
    await execChecked(host, unpackNodeCommand(root, binary, relayed), { timeoutMs: 300_000 });
    return;
  }
  const pulled = await host.exec(pullNodeCommand(root, binary, bc.master.privateIp), { timeoutMs: 600_000 });
  if (pulled.code === 0) return;
  // The private hop failed (no ssh client on the image?): send it from here instead.
  bc.io.notify({
    level: 'warn',
    code: 'SC_ENGINES_W0002',
    message: `${n.alias}: pulling Node.js from the master failed (${(pulled.stderr.trim() || pulled.stdout.trim()).split('\n').pop() ?? ''}); uploading it directly`,
  });
  const gz = await uploadNodeGz(host, root, binary);
  await execChecked(host, unpackNodeCommand(root, binary, gz), { timeoutMs: 300_000 });
}
