import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { setupAddedNodes, setupCluster, teardownNodes } from '../../../src/setup/index.js';
import { checkPlugins } from '../../../src/setup/plugin-loader.js';
import { mungeKey, queueSettings } from '../../../src/setup/queue.js';
import * as slurm from '../../../src/setup/slurm.js';
import { loadConfig } from '../../../src/config/index.js';
import { context, defaultAnswers, record, RecordingAccess } from './recording-access.js';

const three = (): ReturnType<typeof record>[] => [
  record('master', '10.0.0.4'),
  record('node001', '10.0.0.5'),
  record('node002', '10.0.0.6'),
];

const node = (hostname: string, address: string, cpus = 2): slurm.QueueNode => ({
  hostname,
  address,
  resources: { cpus, realMemory: 3911 },
});

describe('slurm.conf and the MPI host file', () => {
  it('lists every exec node with what it has, in one default partition, with the master as controller', () => {
    const conf = slurm.slurmConf({
      cluster: 'My-Cluster',
      controller: { hostname: 'master', address: '10.0.0.4' },
      execNodes: [node('master', '10.0.0.4'), node('node001', '10.0.0.5', 4)],
    });
    expect(conf).toContain('ClusterName=my_cluster\n');
    expect(conf).toContain('SlurmctldHost=master(10.0.0.4)\n');
    expect(conf).toContain('ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n');
    expect(conf).toContain('NodeName=master NodeAddr=10.0.0.4 CPUs=2 RealMemory=3911 State=UNKNOWN\n');
    expect(conf).toContain('NodeName=node001 NodeAddr=10.0.0.5 CPUs=4 RealMemory=3911 State=UNKNOWN\n');
    expect(conf).toContain('PartitionName=main Nodes=master,node001 Default=YES MaxTime=INFINITE State=UP\n');
    expect(slurm.mpiHostfile([node('master', 'x'), node('node001', 'y', 4)])).toBe('master slots=2\nnode001 slots=4\n');
  });

  it("reads slurmd -C's line, or /proc's figures when slurmd is not there", () => {
    expect(
      slurm.parseNodeResources(
        'NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105\nUpTime=0-00:08:11\n',
      ),
    ).toEqual({
      cpus: 2,
      realMemory: 24105,
      topology: 'Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1',
    });
    expect(slurm.parseNodeResources('cpus=8 memkb=16384000\n')).toEqual({ cpus: 8, realMemory: 16000 });
    expect(slurm.parseNodeResources('slurmd: error\n')).toBeUndefined();
  });

  it('reads the queue: nodes once each, responding or not, jobs with their UTC submit time', () => {
    const status = slurm.parseQueueStatus(
      [
        'now 1800000000',
        'ctld up',
        'node|master|idle|0/2/0/2',
        'node|node001|mixed|1/1/0/2',
        'node|node001|mixed|1/1/0/2',
        'node|node002|idle*|0/0/2/2',
        'job|12_3|RUNNING|2027-01-15T08:00:00|1|None|node001',
        'job|13|PENDING|2027-01-15T08:00:30|2|Resources|',
      ].join('\n'),
    );
    expect(status.now).toBe(1_800_000_000_000);
    expect(status.controllerUp).toBe(true);
    expect(status.nodes.map((n) => [n.hostname, n.state, n.responding, n.cpusAllocated])).toEqual([
      ['master', 'idle', true, 0],
      ['node001', 'mixed', true, 1],
      ['node002', 'idle', false, 0],
    ]);
    expect(status.jobs[1]).toEqual({
      id: '13',
      state: 'PENDING',
      submitted: Date.parse('2027-01-15T08:00:30Z'),
      cpus: 2,
      reason: 'Resources',
      nodes: '',
    });
    expect(slurm.countJobs(status)).toEqual({ running: 1, waiting: 1 });
    expect(slurm.parseQueueStatus('now 5\nctld down\n').controllerUp).toBe(false);
  });

  it('tells a StarCluster user what the SGE commands are now', () => {
    expect(slurm.sgeNotice()).toContain('qsub → sbatch, qstat → squeue, qdel → scancel, qhost → sinfo');
  });
});

describe('queue settings', () => {
  const base = { disableQueue: false, plugins: [] };
  it('is on by default, the master an exec host', () => {
    expect(queueSettings(base)).toEqual({ enabled: true, masterIsExecHost: true, viaSgePlugin: false });
    expect(queueSettings({ ...base, disableQueue: true }).enabled).toBe(false);
    expect(queueSettings({ ...base, masterIsExecHost: false }).masterIsExecHost).toBe(false);
  });

  it("takes StarCluster's SGE plugin (DISABLE_QUEUE = True + PLUGINS = sge) as asking for the queue", () => {
    const sge = {
      name: 'sge',
      setupClass: 'starcluster.plugins.sge.SGEPlugin',
      settings: { master_is_exec_host: 'False' },
    };
    expect(queueSettings({ disableQueue: true, plugins: [sge] })).toEqual({
      enabled: true,
      masterIsExecHost: false,
      viaSgePlugin: true,
    });
  });

  it('loads `PLUGINS = sge` without a [plugin sge] section, and MASTER_IS_EXEC_HOST', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sc-queue-cfg-'));
    try {
      const path = join(dir, 'config');
      await writeFile(
        path,
        '[cluster c]\nPROVIDER = local\nCLUSTER_SIZE = 2\nPLUGINS = sge\nMASTER_IS_EXEC_HOST = False\n',
      );
      const config = await loadConfig({ path, env: {} });
      const t = config.clusters.get('c')!;
      expect(t.plugins).toEqual([{ name: 'sge', setupClass: 'sge', settings: {} }]);
      expect(t.masterIsExecHost).toBe(false);
      expect(queueSettings(t)).toMatchObject({ enabled: true, viaSgePlugin: true, masterIsExecHost: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the queue step (commands issued, recorded)', () => {
  let state: string | undefined;
  afterEach(async () => {
    if (state) await rm(state, { recursive: true, force: true });
    state = undefined;
  });
  async function ctxWith(...args: Parameters<typeof context>): Promise<ReturnType<typeof context>> {
    state = await mkdtemp(join(tmpdir(), 'sc-queue-state-'));
    return { ...context(...args), stateDir: state };
  }

  it('installs, keys munge, writes one slurm.conf everywhere, starts slurmctld on the master and slurmd on every node', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const ctx = await ctxWith(three(), { sharedFs: 'sshfs' });
    await setupCluster(ctx, undefined, { access });
    const master = access.on('master');
    for (const n of ['master', 'node001', 'node002']) {
      const all = access.on(n).join('\n');
      expect(all).toContain('for p in munge slurm-client openmpi-bin libopenmpi-dev');
      expect(all).toContain('#writeFile /etc/munge/munge.key.new');
      expect(all).toContain('runuser -u munge -- /usr/sbin/munged');
      expect(all).toContain(
        'NodeName=node002 NodeAddr=10.0.0.6 CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=3911',
      );
      expect(all).toContain('/usr/sbin/slurmd');
    }
    expect(master.join('\n')).toContain('slurmctld');
    expect(access.on('node001').join('\n')).not.toContain('/usr/sbin/slurmctld');
    // Config changed: the controller is (re)started before any slurmd, and the nodes are waited for.
    const ctld = master.findIndex((c) => c.includes('/usr/sbin/slurmctld'));
    const slurmd = master.findIndex((c) => c.includes('/usr/sbin/slurmd\n'));
    expect(ctld).toBeGreaterThan(-1);
    expect(ctld).toBeLessThan(slurmd);
    expect(master.some((c) => c.includes('sinfo -h -N -n master,node001,node002'))).toBe(true);
    expect(master).toContain('#writeFile /home/hostfile');
    // The key was made here, 0600, and is never part of a command.
    const key = await readFile(join(state!, 'munge.key'));
    expect(key.length).toBe(1024);
    expect((await stat(join(state!, 'munge.key'))).mode & 0o777).toBe(0o600);
    const hex = key.toString('hex').slice(0, 16);
    const b64 = key.toString('base64').slice(0, 16);
    expect(access.commands.some((c) => c.command.includes(hex) || c.command.includes(b64))).toBe(false);
    expect(await mungeKey(state!)).toEqual(key);
  });

  it('on a stock Debian image installs the queue with apt: slurmctld on the master, slurmd everywhere', async () => {
    const access = new RecordingAccess((n, c) => {
      const query = /^for p in (.*?); do dpkg-query/.exec(c);
      if (query) return { stdout: query[1]!.split(' ').join('\n') };
      return defaultAnswers(n, c);
    });
    await setupCluster(await ctxWith(three(), { sharedFs: 'none' }), undefined, { access });
    const installs = (node: string): string[] =>
      access
        .on(node)
        .flatMap((c) => c.split('\n'))
        .filter((l) => l.includes('install --no-install-recommends'))
        .map((l) => l.replace(/^.*install --no-install-recommends /, ''));
    expect(installs('master')).toEqual([
      'munge slurm-client openmpi-bin libopenmpi-dev slurmctld gcc g++ make libc6-dev slurmd',
    ]);
    expect(installs('node001')).toEqual(['munge slurm-client openmpi-bin libopenmpi-dev slurmd']);
  });

  it('leaves the master out of the partition with MASTER_IS_EXEC_HOST = False', async () => {
    const access = new RecordingAccess(defaultAnswers);
    await setupCluster(await ctxWith(three(), { sharedFs: 'none', masterIsExecHost: false }), undefined, { access });
    const master = access.on('master').join('\n');
    expect(master).toContain('PartitionName=main Nodes=node001,node002 ');
    expect(master).not.toContain('NodeName=master');
    expect(master).not.toContain('/usr/sbin/slurmd\n');
    expect(master).toContain(
      'for p in munge slurm-client openmpi-bin libopenmpi-dev slurmctld gcc g++ make libc6-dev;',
    );
    // Without a shared /home every node gets the host file.
    expect(access.on('node002')).toContain('#writeFile /home/hostfile');
  });

  it('with DISABLE_QUEUE = True, nothing of Slurm or munge runs anywhere', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const ctx = await ctxWith(three(), { sharedFs: 'none', disableQueue: true });
    await setupCluster(ctx, undefined, { access });
    expect(access.commands.filter((c) => /slurm|munge/.test(c.command))).toEqual([]);
    expect(ctx.io.events.some((e) => e.id === 'setup-queue' && e.state === 'skip')).toBe(true);
  });

  it('gives a config with PLUGINS = sge the queue and one notice (at validation, not again at setup)', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const plugins = [{ name: 'sge', setupClass: 'starcluster.plugins.sge.SGEPlugin', settings: {} }];
    const ctx = await ctxWith(three(), { sharedFs: 'none', disableQueue: true, plugins });
    await setupCluster(ctx, undefined, { access });
    expect(access.on('master').join('\n')).toContain('/usr/sbin/slurmctld');
    expect(ctx.io.messages).toEqual([]);
    const { problems, warnings } = await checkPlugins(plugins);
    expect(problems).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('qsub → sbatch, qstat → squeue, qdel → scancel, qhost → sinfo');
  });

  it('on Amazon Linux says there is no Slurm there and what to do', async () => {
    const access = new RecordingAccess((n, c) => {
      if (c.includes('/etc/os-release'))
        return { stdout: 'ID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023"\n' };
      // Nothing of the queue is installed, and dnf finds none of it.
      const query = /^for p in (.*); do rpm -q/.exec(c);
      if (query) return { stdout: query[1]!.split(' ').join('\n') };
      if (c.includes('dnf') && c.includes('install'))
        return { code: 1, stderr: 'Error: Unable to find a match: slurm' };
      return defaultAnswers(n, c);
    });
    const error = await setupCluster(await ctxWith(three(), { sharedFs: 'none' }), undefined, { access }).catch(
      (e: unknown) => e,
    );
    expect(StarclusterError.is(error) && error.code).toBe('SetupFailed');
    expect((error as StarclusterError).cause).toMatchObject({ code: 'QueueUnsupportedImage' });
    expect((error as Error).message).toContain("Amazon Linux 2023's repositories carry no Slurm");
    expect((error as Error).message).toContain('DISABLE_QUEUE = True');
  });

  it('an added node is installed, every node gets the new slurm.conf, then slurmctld and the slurmds restart', async () => {
    const access = new RecordingAccess((n, c) =>
      c.startsWith('id -u') ? { stdout: '1005\n1005\n' } : defaultAnswers(n, c),
    );
    const nodes = [...three(), record('node003', '10.0.0.7')];
    await setupAddedNodes(await ctxWith(nodes, { sharedFs: 'sshfs' }), [nodes[3]!], undefined, { access });
    expect(access.on('node003').join('\n')).toContain('dpkg-query');
    expect(access.on('node001').join('\n')).not.toContain('dpkg-query');
    expect(access.on('node001').join('\n')).toContain('NodeName=node003 NodeAddr=10.0.0.7');
    expect(access.on('master').join('\n')).toContain('sc_stop /run/slurmctld.pid');
    expect(access.on('node001').join('\n')).toContain('sc_stop /run/slurmd.pid');
  });

  it('drains a leaving node first (requeueing its jobs with -f), then rewrites slurm.conf without it', async () => {
    let polls = 0;
    const access = new RecordingAccess((n, c) => {
      // Its last job is still there at the first look, gone at the second.
      if (c.includes('squeue -h -w "$known" -o')) return { stdout: polls++ === 0 ? '42\n' : '' };
      return defaultAnswers(n, c);
    });
    const nodes = three();
    const ctx = await ctxWith(nodes, { sharedFs: 'none' });
    await teardownNodes(ctx, [nodes[2]!], { access, requeueJobs: true });
    const master = access.on('master');
    expect(master[0]).toContain("sinfo -h -N -n node002 -o '%N'");
    expect(master[0]).toContain('scontrol update NodeName="$known" State=DRAIN');
    expect(master[0]).toContain('scontrol requeue');
    expect(polls).toBe(2);
    expect(access.on('node002').join('\n')).toContain('sc_stop /run/slurmd.pid');
    const conf = master.find((c) => c.includes('SC_SLURM_CONF'))!;
    expect(conf).toContain('Nodes=master,node001 ');
    expect(conf).not.toContain('node002');
    expect(ctx.io.events.filter((e) => e.state === 'done').map((e) => e.id)).toEqual([
      'setup-queue-drain',
      'setup-queue-remove',
      'setup-forget',
    ]);
  });

  it('an interrupted drain resumes the node: the cluster is as before', async () => {
    const abort = new AbortController();
    const access = new RecordingAccess((n, c) => {
      if (c.includes('squeue -h -w "$known" -o')) {
        abort.abort();
        return { stdout: '42\n' };
      }
      return defaultAnswers(n, c);
    });
    const nodes = three();
    const error = await teardownNodes(await ctxWith(nodes, { sharedFs: 'none' }), [nodes[2]!], {
      access,
      signal: abort.signal,
    }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('Interrupted');
    expect(access.on('master').join('\n')).toContain('scontrol update NodeName="$known" State=RESUME');
    expect(access.on('master').join('\n')).not.toContain('SC_SLURM_CONF');
  });
});
