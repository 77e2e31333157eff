import { readFile } from 'node:fs/promises';
import type { ClusterContext } from '../model/context.js';
import { CloudError, RemoteError, throwIfAborted } from '../errors.js';
import { execChecked } from '../remote/types.js';
import type { Step } from '../steps.js';
import { registerScriptSecrets } from '../secrets.js';
import { installPackages, type OsRelease } from './packages.js';
import type { LoadedPlugin } from './plugin-loader.js';
import { configureQueue, installQueue, queueSettings } from './queue.js';
import * as sh from './scripts.js';
import { onNodes, sha256, type NodeAccess, type SetupNode } from './session.js';
import { deviceFor, nodeVolumes } from './volumes.js';
import { TAG_MKFS, TAG_RESIZEFS } from '../model/tags.js';

/**
 * The steps that make a machine a node, in the order setupCluster runs them (index.ts): SSH, packages,
 * volumes, hostnames, the cluster user, scratch, passwordless SSH, the shared filesystem, user data, the queue.
 * Each runs on the run's target nodes in parallel and is idempotent.
 */

export interface SetupState {
  ctx: ClusterContext;
  access: NodeAccess;
  all: SetupNode[];
  master: SetupNode;
  /** The nodes this run sets up (all of them for start; the new ones for addnode). */
  targets: SetupNode[];
  plugins: LoadedPlugin[];
  uid?: number;
  gid?: number;
  sshTimeoutMs: number;
  /** Each node's distribution, as the packages step found it (by alias). */
  os: Map<string, OsRelease>;
}

export function names(nodes: readonly SetupNode[]): string {
  return nodes.length <= 4 ? nodes.map((n) => n.alias).join(', ') : `${nodes.length} nodes`;
}

export function hostLines(nodes: readonly SetupNode[]): sh.HostLine[] {
  return nodes.map((n) => ({ ip: n.privateIp, names: n.hostname === n.alias ? [n.alias] : [n.hostname, n.alias] }));
}

export function sharedPaths(state: SetupState): string[] {
  const paths = ['/home', ...state.ctx.template.volumes.map((v) => v.mountPath)];
  return [...new Set(paths)].filter(
    (p, _i, all) => p === '/home' || !all.some((q) => q !== p && p.startsWith(`${q}/`)),
  );
}

export function waitSshStep(): Step<SetupState> {
  return {
    id: 'setup-ssh',
    title: 'Waiting for SSH',
    run: async (s, report, signal) => {
      let up = 0;
      report({ detail: names(s.targets), current: 0, total: s.targets.length });
      await onNodes('waiting for ssh', s.targets, async (n) => {
        await s.access.waitFor(n, { timeoutMs: s.sshTimeoutMs, signal });
        up += 1;
        report({ detail: `${n.alias} is up`, current: up, total: s.targets.length });
      });
    },
  };
}

/**
 * What each node needs from its distribution for the steps that follow: the NFS server on the
 * master and the client on the others, or sshfs on the others. A stock image has none of it.
 */
export function packagesFor(
  sharedFs: 'nfs' | 'sshfs' | 'none',
  role: 'master' | 'node',
  clusterSize: number,
): string[] {
  if (sharedFs === 'none' || clusterSize < 2) return [];
  if (sharedFs === 'nfs') return [role === 'master' ? 'nfs-server' : 'nfs-client'];
  return role === 'master' ? [] : ['sshfs'];
}

export function packagesStep(): Step<SetupState> {
  return {
    id: 'setup-packages',
    title: 'Installing packages',
    run: async (s, report, signal) => {
      let done = 0;
      const installed: string[] = [];
      await onNodes('installing packages', s.targets, async (n) => {
        const root = s.access.host(n, 'root');
        const wanted = packagesFor(s.ctx.template.sharedFs, n.record.role, s.all.length);
        const result = await installPackages(root, wanted, {
          ...(signal ? { signal } : {}),
          onRetry: (reason) => report({ detail: `${n.alias}: ${reason}` }),
        });
        s.os.set(n.alias, result.os);
        if (result.installed.length > 0) installed.push(`${n.alias}: ${result.installed.join(' ')}`);
        done += 1;
        report({ detail: `${n.alias}: ${result.os.prettyName}`, current: done, total: s.targets.length });
      });
      if (installed.length > 0)
        report({ detail: installed.length <= 4 ? installed.join('; ') : `${installed.length} nodes` });
    },
  };
}

export function volumesStep(): Step<SetupState> {
  return {
    id: 'setup-volumes',
    title: 'Attaching and mounting volumes on the master',
    skip: (s) => (s.ctx.template.volumes.length === 0 ? 'no VOLUMES' : false),
    run: async (s, report, signal) => {
      const attacher = nodeVolumes(s.ctx.provider);
      const volumes = s.ctx.template.volumes;
      await Promise.all(
        volumes.map(async (v, i) => {
          await attacher.attach(v.volumeId, s.master.record.id, deviceFor(v, i), signal);
          await attacher.waitAttached(v.volumeId, s.master.record.id, signal);
          report({ detail: `${v.volumeId} attached` });
        }),
      );
      const root = s.access.host(s.master, 'root');
      for (const [i, v] of volumes.entries()) {
        throwIfAborted(signal);
        const tags = await attacher.tags(v.volumeId);
        const mount = {
          volumeId: v.volumeId,
          device: deviceFor(v, i),
          mountPath: v.mountPath,
          ...(v.partition ? { partition: v.partition } : {}),
          ...(tags[TAG_MKFS] ? { mkfs: tags[TAG_MKFS] } : {}),
          ...(tags[TAG_RESIZEFS] ? { resizefs: tags[TAG_RESIZEFS] } : {}),
        };
        let script: string;
        try {
          script = sh.mountVolumeScript(mount);
        } catch (error) {
          throw new CloudError('VolumeTagInvalid', `volume ${v.volumeId}: ${(error as Error).message}`, {
            hint: `fix or remove its ${TAG_MKFS} / ${TAG_RESIZEFS} tag`,
          });
        }
        // Formatting a large volume takes a while.
        await execChecked(root, script, { timeoutMs: 900_000 });
        report({ detail: `${v.volumeId} on ${v.mountPath}`, current: i + 1, total: volumes.length });
      }
    },
  };
}

export function hostnamesStep(): Step<SetupState> {
  return {
    id: 'setup-hosts',
    title: 'Setting hostnames and /etc/hosts',
    run: async (s) => {
      const hosts = sh.etcHostsScript(hostLines(s.all));
      const setsName = new Set(s.targets);
      // New nodes get their name; every node gets the full /etc/hosts.
      await onNodes('setting hostnames', s.all, (n) =>
        execChecked(s.access.host(n, 'root'), setsName.has(n) ? `${sh.hostnameScript(n.hostname)}\n${hosts}` : hosts),
      );
    },
  };
}

export function userStep(): Step<SetupState> {
  return {
    id: 'setup-user',
    title: 'Creating the cluster user',
    run: async (s, report) => {
      const user = s.ctx.template.clusterUser;
      const master = s.access.host(s.master, 'root');
      // An existing cluster keeps its uid; a new one follows StarCluster's rule on the master.
      const existing = await master.exec(`id -u ${user} && id -g ${user}`);
      const picked =
        existing.code === 0 && !s.targets.includes(s.master)
          ? existing.stdout
          : (await execChecked(master, sh.pickUidScript(user))).stdout;
      const [uid, gid] = picked.trim().split(/\s+/).map(Number);
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
        throw new RemoteError(
          'UidUnknown',
          `cannot choose a uid for ${user} on the master: got ${JSON.stringify(picked.trim())}`,
        );
      }
      s.uid = uid;
      s.gid = gid;
      report({ detail: `${user} (uid ${uid})` });
      const script = sh.createUserScript(user, uid!, gid!, s.ctx.template.clusterShell);
      await onNodes(`creating user ${user}`, s.targets, (n) => execChecked(s.access.host(n, 'root'), script));
    },
  };
}

export function scratchStep(): Step<SetupState> {
  return {
    id: 'setup-scratch',
    title: 'Creating scratch space',
    run: async (s) => {
      const script = sh.scratchScript(s.ctx.template.clusterUser);
      await onNodes('creating /scratch', s.targets, (n) => execChecked(s.access.host(n, 'root'), script));
    },
  };
}

/** Every node's host keys, collected in parallel, as known_hosts lines under its names and IP. */
export async function collectHostKeyLines(s: SetupState, nodes: readonly SetupNode[]): Promise<string[]> {
  const keys = await onNodes(
    'reading host keys',
    nodes,
    async (n) => (await execChecked(s.access.host(n, 'root'), sh.HOST_KEYS_COMMAND)).stdout,
  );
  return nodes.flatMap((n, i) => {
    const hostNames = [...new Set([n.hostname, n.alias, n.privateIp])].join(',');
    return keys[i]!.split('\n')
      .map((l) => l.trim().split(/\s+/).slice(0, 2))
      .filter((parts) => parts.length === 2)
      .map(([type, key]) => `${hostNames} ${type} ${key}`);
  });
}

export function trustStep(): Step<SetupState> {
  return {
    id: 'setup-ssh-trust',
    title: 'Passwordless SSH between nodes',
    run: async (s, report) => {
      const key = await s.access.clusterKey();
      const user = s.ctx.template.clusterUser;
      const lines = await collectHostKeyLines(s, s.all);
      report({ detail: `${lines.length} host keys` });
      const rootKeys = sh.sshKeyScript('/root', 'root', key.privateKey, key.publicKey);
      // As StarCluster: the key we log in with may log in as the cluster user too (sshmaster -u USER).
      const userKeys = sh.sshKeyScript(`/home/${user}`, user, key.privateKey, key.publicKey, [
        await s.access.loginKey(),
      ]);
      // With a shared /home the user's keys live once, on the master.
      const userOn = (n: SetupNode): boolean =>
        s.ctx.template.sharedFs === 'none' ? s.targets.includes(n) : n === s.master && s.targets.includes(n);
      const known = sh.knownHostsScript(lines);
      await onNodes('setting up passwordless ssh', s.all, (n) =>
        execChecked(
          s.access.host(n, 'root'),
          [known, ...(s.targets.includes(n) ? [rootKeys] : []), ...(userOn(n) ? [userKeys] : [])].join('\n'),
        ),
      );
    },
  };
}

export function sharedFsStep(): Step<SetupState> {
  return {
    id: 'setup-shared-fs',
    title: 'Sharing /home and volumes from the master',
    skip: (s) =>
      s.ctx.template.sharedFs === 'none'
        ? 'SHARED_FS = none'
        : s.all.length < 2
          ? 'no nodes besides the master'
          : false,
    run: async (s, report) => {
      const paths = sharedPaths(s);
      const workers = s.all.filter((n) => n !== s.master);
      const newWorkers = s.targets.filter((n) => n !== s.master);
      if (s.ctx.template.sharedFs === 'nfs') {
        report({ detail: `NFS: ${paths.join(', ')}` });
        await execChecked(
          s.access.host(s.master, 'root'),
          sh.nfsExportScript(
            paths,
            workers.map((n) => n.privateIp),
          ),
          { timeoutMs: 120_000 },
        );
        const mount = sh.nfsMountScript(s.master.privateIp, paths);
        await onNodes('mounting NFS shares', newWorkers, (n) =>
          execChecked(s.access.host(n, 'root'), mount, { timeoutMs: 120_000 }),
        );
      } else {
        report({ detail: `sshfs: ${paths.join(', ')}` });
        const mount = sh.sshfsMountScript(s.master.privateIp, paths);
        await onNodes('mounting sshfs shares', newWorkers, (n) =>
          execChecked(s.access.host(n, 'root'), mount, { timeoutMs: 120_000 }),
        );
      }
    },
  };
}

export function userdataStep(): Step<SetupState> {
  return {
    id: 'setup-userdata',
    title: 'Running USERDATA_SCRIPTS',
    skip: (s) =>
      s.ctx.template.userdataScripts.length === 0
        ? 'no USERDATA_SCRIPTS'
        : s.ctx.provider.nodesAreMachines
          ? 'USERDATA_SCRIPTS ran at boot, as user data'
          : false,
    run: async (s, report) => {
      for (const [i, path] of s.ctx.template.userdataScripts.entries()) {
        const body = await readFile(path);
        registerScriptSecrets(body.toString('utf8'));
        const hash = sha256(body);
        const remote = `/var/lib/starcluster/userdata-${hash}`;
        report({ detail: path, current: i, total: s.ctx.template.userdataScripts.length });
        await onNodes(`running ${path}`, s.targets, async (n) => {
          const root = s.access.host(n, 'root');
          await execChecked(root, 'mkdir -p /var/lib/starcluster');
          await root.writeFile(remote, body, 0o755);
          await execChecked(root, sh.runOnceScript(hash, remote), { timeoutMs: 1_800_000 });
        });
      }
    },
  };
}

export function queueStep(): Step<SetupState> {
  return {
    id: 'setup-queue',
    title: 'Setting up the Slurm queue',
    skip: (s) => (queueSettings(s.ctx.template).enabled ? false : 'DISABLE_QUEUE'),
    run: async (s, report, signal) => {
      await installQueue(s, s.targets, report, signal);
      await configureQueue(s, report);
    },
  };
}
