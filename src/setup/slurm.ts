import { shellQuote as q } from '../remote/types.js';

/**
 * The batch queue as text: slurm.conf, the MPI host file, and the shell that installs, starts,
 * drains and reads Slurm on a node. Pure functions, so tests check what would run on a node and
 * the fleet runs it for real. Every script is idempotent. Daemons are started directly when the
 * node has no systemd (the test fleet, containers) and through systemctl when it has.
 *
 * Checked against Debian 12's Slurm 22.05: proctrack/linuxproc and task/none need no cgroups;
 * adding or removing NodeName lines needs slurmctld and every slurmd restarted (22.05's
 * `scontrol reconfigure` does not pick up new nodes), which running jobs survive.
 */

/** Where things live on a node: Debian's paths for config, the usual ones for state and logs. */
export const SLURM_PATHS = {
  conf: '/etc/slurm/slurm.conf',
  mungeKey: '/etc/munge/munge.key',
  logDir: '/var/log/slurm',
  stateDir: '/var/spool/slurm/ctld',
  spoolDir: '/var/spool/slurm/d',
  ctldPid: '/run/slurmctld.pid',
  slurmdPid: '/run/slurmd.pid',
  mungePid: '/run/munge/munged.pid',
} as const;

/** The one partition every exec node is in (StarCluster's SGE had all.q). */
export const PARTITION = 'main';

/**
 * Packages by role (names in ./packages.ts's PACKAGE_NAMES: Debian's slurmctld, slurmd, slurm-client,
 * munge, openmpi-bin, libopenmpi-dev); OpenMPI's compiler wrappers on every node so a job can build
 * where it runs.
 */
export const QUEUE_PACKAGES = {
  common: ['munge', 'slurm-client', 'openmpi'],
  // The master also compiles (mpicc into the shared /home), as StarCluster's AMIs could.
  controller: ['slurmctld', 'c-compiler'],
  exec: ['slurmd'],
} as const;

export function queuePackages(role: { controller: boolean; exec: boolean }): string[] {
  return [
    ...QUEUE_PACKAGES.common,
    ...(role.controller ? QUEUE_PACKAGES.controller : []),
    ...(role.exec ? QUEUE_PACKAGES.exec : []),
  ];
}

/** What a node has, as `slurmd -C` reports it (or /proc when slurmd is missing). */
export interface NodeResources {
  cpus: number;
  /** MiB. */
  realMemory: number;
  /** `Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1` as slurmd reports it (so it agrees). */
  topology?: string;
}

/**
 * Reads the output of {@link NODE_RESOURCES_COMMAND}: `slurmd -C`'s `CPUs=2 ... RealMemory=3920`
 * line, else the fallback's `cpus=2 memkb=4014080`.
 */
export function parseNodeResources(output: string): NodeResources | undefined {
  const cpus = /\bCPUs=(\d+)/.exec(output)?.[1];
  const mem = /\bRealMemory=(\d+)/.exec(output)?.[1];
  if (cpus && mem) {
    const parts = ['Boards', 'SocketsPerBoard', 'CoresPerSocket', 'ThreadsPerCore'].map(
      (k) => new RegExp(`\\b${k}=(\\d+)`).exec(output)?.[0],
    );
    const topology = parts.every(Boolean) ? parts.join(' ') : undefined;
    return { cpus: Number(cpus), realMemory: Number(mem), ...(topology ? { topology } : {}) };
  }
  const c = /\bcpus=(\d+)/.exec(output)?.[1];
  const kb = /\bmemkb=(\d+)/.exec(output)?.[1];
  if (c && kb) return { cpus: Number(c), realMemory: Math.floor(Number(kb) / 1024) };
  return undefined;
}

export const NODE_RESOURCES_COMMAND = [
  'if command -v slurmd >/dev/null 2>&1 && slurmd -C 2>/dev/null | grep -q RealMemory; then slurmd -C | head -1;',
  'else echo "cpus=$(nproc) memkb=$(awk \'/^MemTotal:/ {print $2}\' /proc/meminfo)"; fi',
].join(' ');

export interface QueueNode {
  /** The node's hostname (what slurmd calls itself). */
  hostname: string;
  /** Its private address. */
  address: string;
  resources: NodeResources;
}

export interface SlurmConfInput {
  cluster: string;
  /** The master: where slurmctld runs. */
  controller: { hostname: string; address: string };
  /** Every node that runs jobs (the master too unless MASTER_IS_EXEC_HOST = False). */
  execNodes: readonly QueueNode[];
}

/** Slurm's ClusterName: lower case, letters, digits and `_` (it names the state files). */
export function slurmClusterName(cluster: string): string {
  const name = cluster.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return name.slice(0, 40) || 'starcluster';
}

/** The whole slurm.conf; the same text on every node. */
export function slurmConf(input: SlurmConfInput): string {
  const nodes = input.execNodes;
  const lines = [
    `# Written by starcluster for cluster ${input.cluster}. Rewritten on start, addnode, removenode and resize:`,
    '# edit the template, not this file.',
    `ClusterName=${slurmClusterName(input.cluster)}`,
    `SlurmctldHost=${input.controller.hostname}(${input.controller.address})`,
    'SlurmUser=slurm',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `StateSaveLocation=${SLURM_PATHS.stateDir}`,
    `SlurmdSpoolDir=${SLURM_PATHS.spoolDir}`,
    `SlurmctldPidFile=${SLURM_PATHS.ctldPid}`,
    `SlurmdPidFile=${SLURM_PATHS.slurmdPid}`,
    `SlurmctldLogFile=${SLURM_PATHS.logDir}/slurmctld.log`,
    `SlurmdLogFile=${SLURM_PATHS.logDir}/slurmd.log`,
    // No cgroups needed: works in containers and on any image.
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'SwitchType=switch/none',
    // `srun --mpi=pmix` when the build has it (Debian's does); plain srun stays cheap.
    'MpiDefault=none',
    // Slots are CPUs, as SGE's were.
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_CPU',
    'SchedulerType=sched/backfill',
    // A node that restarts (or comes back) rejoins by itself; drained nodes stay drained.
    'ReturnToService=2',
    'SlurmctldTimeout=120',
    'SlurmdTimeout=300',
    'InactiveLimit=0',
    'MinJobAge=300',
    'KillWait=30',
    'Waittime=0',
    // Batch jobs may be requeued (removenode -f requeues the jobs of the nodes it removes).
    'JobRequeue=1',
    'AccountingStorageType=accounting_storage/none',
    'JobAcctGatherType=jobacct_gather/none',
    'JobCompType=jobcomp/none',
    '',
    ...nodes.map(
      (n) =>
        `NodeName=${n.hostname} NodeAddr=${n.address} CPUs=${n.resources.cpus}${n.resources.topology ? ` ${n.resources.topology}` : ''} RealMemory=${n.resources.realMemory} State=UNKNOWN`,
    ),
    `PartitionName=${PARTITION} ${nodes.length ? `Nodes=${nodes.map((n) => n.hostname).join(',')} ` : ''}Default=YES MaxTime=INFINITE State=UP`,
    '',
  ];
  return lines.join('\n');
}

/** StarCluster-style MPI host file (`/home/hostfile`): one exec node per line with its slots. */
export function mpiHostfile(nodes: readonly QueueNode[]): string {
  return nodes.map((n) => `${n.hostname} slots=${n.resources.cpus}`).join('\n') + '\n';
}

export const MPI_HOSTFILE = '/home/hostfile';

// --- scripts -------------------------------------------------------------------------------

/** Shell helpers every daemon script starts with: systemd or not, stop by pid file, wait for a pid file. */
const DAEMON_HELPERS = [
  'sc_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }',
  'sc_running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }',
  'sc_stop() { if sc_running "$1"; then p=$(cat "$1"); kill "$p" 2>/dev/null; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done; kill -9 "$p" 2>/dev/null || true; fi; rm -f "$1"; }',
  'sc_wait_pid() { i=0; while ! sc_running "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; sc_running "$1" || { echo "$2 did not start; see $3" >&2; tail -n 20 "$3" >&2 2>/dev/null; exit 1; }; }',
].join('\n');

/**
 * What to tell a user whose image has no Slurm packages. Amazon Linux 2023's repositories carry
 * none that we know of (AWS's own Slurm services build it from source for AL2023); setup tries dnf
 * and says this when the packages are not found.
 */
export const AL2023_NO_SLURM =
  "Amazon Linux 2023's repositories carry no Slurm or munge packages, so it cannot run the cluster's queue: use a Debian 12 or Ubuntu 24.04 image (NODE_IMAGE_ID = debian-12), or set DISABLE_QUEUE = True";

/**
 * munge with the cluster's key: the key is already at `${SLURM_PATHS.mungeKey}.new` (written over
 * SFTP, never on a command line). munged runs as munge and is restarted only when the key changed.
 */
export function mungeScript(): string {
  const key = SLURM_PATHS.mungeKey;
  return [
    DAEMON_HELPERS,
    'install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge',
    'install -d -o munge -g munge -m 0755 /run/munge',
    `changed=0; if ! cmp -s ${key}.new ${key}; then mv -f ${key}.new ${key}; changed=1; else rm -f ${key}.new; fi`,
    `chown munge:munge ${key}; chmod 0400 ${key}`,
    'if sc_systemd; then',
    '  systemctl enable munge >/dev/null 2>&1 || true',
    '  if [ $changed = 1 ] || ! systemctl is-active --quiet munge; then systemctl restart munge; fi',
    'else',
    `  if [ $changed = 1 ] || ! sc_running ${SLURM_PATHS.mungePid}; then`,
    `    sc_stop ${SLURM_PATHS.mungePid}`,
    '    runuser -u munge -- /usr/sbin/munged',
    `    sc_wait_pid ${SLURM_PATHS.mungePid} munged /var/log/munge/munged.log`,
    '  fi',
    'fi',
    'munge -n | unmunge >/dev/null',
  ].join('\n');
}

/** What {@link writeConfScript} prints when the node's slurm.conf was different (its daemon needs a restart). */
export const CONF_CHANGED = 'slurm.conf changed';

/** Writes slurm.conf (the same on every node) and the directories the daemons need. */
export function writeConfScript(conf: string): string {
  const file = SLURM_PATHS.conf;
  return [
    'mkdir -p /etc/slurm',
    `install -d -o slurm -g slurm -m 0755 ${SLURM_PATHS.logDir} ${SLURM_PATHS.stateDir}`,
    `install -d -m 0755 ${SLURM_PATHS.spoolDir}`,
    `cat > ${file}.sc-tmp <<'SC_SLURM_CONF'\n${conf.trimEnd()}\nSC_SLURM_CONF`,
    `if cmp -s ${file}.sc-tmp ${file}; then rm -f ${file}.sc-tmp; else chmod 0644 ${file}.sc-tmp && mv -f ${file}.sc-tmp ${file} && echo ${q(CONF_CHANGED)}; fi`,
  ].join('\n');
}

export type DaemonAction = 'start' | 'restart';

/**
 * Starts (or restarts) slurmctld. `start` leaves a running one alone; `restart` is what a changed
 * node list needs. Jobs survive: their state is in StateSaveLocation.
 */
export function slurmctldScript(action: DaemonAction): string {
  return daemonScript('slurmctld', SLURM_PATHS.ctldPid, `${SLURM_PATHS.logDir}/slurmctld.log`, action);
}

/** Starts (or restarts) slurmd. Running job steps survive a restart (slurmstepd is their parent). */
export function slurmdScript(action: DaemonAction): string {
  return daemonScript('slurmd', SLURM_PATHS.slurmdPid, `${SLURM_PATHS.logDir}/slurmd.log`, action);
}

/**
 * slurmd 22.05 will not start without a cgroup filesystem, even with proctrack/linuxproc and
 * task/none. A machine without systemd (a container, a test fleet host) may have none: give it
 * the cgroup v1 layout systemd would have made (a tmpfs with the named systemd hierarchy).
 */
export const CGROUP_FOR_SLURMD = [
  'if ! awk \'$2 ~ "^/sys/fs/cgroup" {f=1} END {exit !f}\' /proc/mounts; then',
  '  mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup && mkdir -p /sys/fs/cgroup/systemd &&',
  '  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd',
  'fi',
].join('\n');

function daemonScript(daemon: string, pidFile: string, log: string, action: DaemonAction): string {
  return [
    DAEMON_HELPERS,
    ...(daemon === 'slurmd' ? [CGROUP_FOR_SLURMD] : []),
    'if sc_systemd; then',
    `  systemctl enable ${daemon} >/dev/null 2>&1 || true`,
    action === 'restart'
      ? `  systemctl restart ${daemon}`
      : `  systemctl is-active --quiet ${daemon} || systemctl start ${daemon}`,
    'else',
    action === 'restart' ? `  sc_stop ${pidFile}` : `  if sc_running ${pidFile}; then exit 0; fi; rm -f ${pidFile}`,
    `  /usr/sbin/${daemon}`,
    `  sc_wait_pid ${pidFile} ${daemon} ${log}`,
    'fi',
  ].join('\n');
}

/** Stops a daemon (slurmd on a node leaving the cluster; DISABLE_QUEUE on a restart). */
export function stopDaemonScript(daemon: 'slurmctld' | 'slurmd' | 'munge'): string {
  const pid =
    daemon === 'slurmctld' ? SLURM_PATHS.ctldPid : daemon === 'slurmd' ? SLURM_PATHS.slurmdPid : SLURM_PATHS.mungePid;
  return [
    DAEMON_HELPERS,
    `if sc_systemd; then systemctl disable --now ${daemon} >/dev/null 2>&1 || true; fi`,
    `sc_stop ${pid}`,
  ].join('\n');
}

/**
 * Waits (on the master) until slurmctld answers and every named node has registered: no node
 * UNKNOWN, DOWN or not responding. Prints `sinfo`'s view when it gives up.
 */
export function waitNodesScript(hostnames: readonly string[], timeoutSeconds = 120): string {
  const names = hostnames.join(',');
  return [
    `end=$(( $(date +%s) + ${timeoutSeconds} ))`,
    'until scontrol ping >/dev/null 2>&1; do [ $(date +%s) -ge $end ] && { echo "slurmctld does not answer" >&2; exit 1; }; sleep 0.5; done',
    ...(hostnames.length
      ? [
          'while :; do',
          // %T: long state name; a trailing * means not responding.
          `  bad=$(sinfo -h -N -n ${q(names)} -o '%N %T' | awk '$2 ~ /\\*$/ || $2 ~ /^(unknown|down|not_responding|future)/ {print}')`,
          `  n=$(sinfo -h -N -n ${q(names)} -o '%N' | sort -u | wc -l)`,
          `  [ -z "$bad" ] && [ "$n" -ge ${hostnames.length} ] && break`,
          '  if [ $(date +%s) -ge $end ]; then echo "nodes not ready: ${bad:-only $n registered}" >&2; sinfo -N >&2; exit 1; fi',
          '  sleep 0.5',
          'done',
        ]
      : []),
  ].join('\n');
}

/** Sets $known to those of these nodes the queue knows (a node whose setup never finished is not in slurm.conf). */
function knownNodes(hostnames: readonly string[]): string {
  return `known=$(sinfo -h -N -n ${q(hostnames.join(','))} -o '%N' 2>/dev/null | sort -u | paste -sd, -)`;
}

/** Drains nodes: no new jobs start there; running ones go on (or, with `requeue`, go back to the queue). */
export function drainScript(hostnames: readonly string[], requeue: boolean): string {
  return [
    knownNodes(hostnames),
    '[ -n "$known" ] || exit 0',
    `scontrol update NodeName="$known" State=DRAIN Reason=${q('starcluster: node leaving the cluster')}`,
    ...(requeue
      ? [
          `jobs=$(squeue -h -w "$known" -t RUNNING,CONFIGURING,SUSPENDED -o '%i' | sort -u | paste -sd, -)`,
          'if [ -n "$jobs" ]; then scontrol requeue "$jobs"; echo "requeued $jobs"; fi',
        ]
      : []),
  ].join('\n');
}

/** Ids of the jobs on these nodes (running, completing, suspended), one a line. */
export function jobsOnNodesCommand(hostnames: readonly string[]): string {
  return [knownNodes(hostnames), `[ -z "$known" ] || squeue -h -w "$known" -o '%i'`].join('\n');
}

/** Undoes a drain (an interrupted removal). */
export function resumeScript(hostnames: readonly string[]): string {
  return [knownNodes(hostnames), '[ -z "$known" ] || scontrol update NodeName="$known" State=RESUME'].join('\n');
}

// --- what the queue says ---------------------------------------------------------------------

/** One command on the master giving everything {@link parseQueueStatus} reads. */
export const QUEUE_STATUS_COMMAND = [
  'echo "now $(date -u +%s)"',
  'scontrol ping >/dev/null 2>&1 && echo "ctld up" || echo "ctld down"',
  // Node, state, CPUs alloc/idle/other/total.
  "sinfo -h -N -o 'node|%N|%T|%C' 2>/dev/null",
  // Job id, state, submit time (UTC), CPUs, reason, nodes.
  // -r: one line per array task (a pending array is one line otherwise).
  "TZ=UTC squeue -h -a -r -o 'job|%i|%T|%V|%C|%r|%N' 2>/dev/null",
  'true',
].join('; ');

export interface QueueNodeState {
  hostname: string;
  /** `idle`, `mixed`, `allocated`, `drained`, `draining`, `down`... (lower case, no `*`). */
  state: string;
  responding: boolean;
  cpusAllocated: number;
  cpusTotal: number;
}

export interface QueueJob {
  id: string;
  /** `PENDING`, `RUNNING`, `COMPLETING`... */
  state: string;
  /** Milliseconds since the epoch. */
  submitted: number;
  cpus: number;
  reason: string;
  nodes: string;
}

export interface QueueStatus {
  /** The master's clock, milliseconds since the epoch. */
  now: number;
  controllerUp: boolean;
  nodes: QueueNodeState[];
  jobs: QueueJob[];
}

export function parseQueueStatus(output: string): QueueStatus {
  const status: QueueStatus = { now: Date.now(), controllerUp: false, nodes: [], jobs: [] };
  const seen = new Set<string>();
  for (const line of output.split('\n')) {
    const l = line.trim();
    if (l.startsWith('now ')) status.now = Number(l.slice(4)) * 1000;
    else if (l === 'ctld up') status.controllerUp = true;
    else if (l.startsWith('node|')) {
      const [, hostname = '', rawState = '', cpus = ''] = l.split('|');
      if (seen.has(hostname)) continue; // a node in several partitions is listed once per partition
      seen.add(hostname);
      const [alloc = 0, , , total = 0] = cpus.split('/').map(Number);
      status.nodes.push({
        hostname,
        state: rawState.replace(/[*~#!%$@^-]+$/, '').toLowerCase(),
        responding: !rawState.endsWith('*'),
        cpusAllocated: alloc,
        cpusTotal: total,
      });
    } else if (l.startsWith('job|')) {
      const [, id = '', state = '', submit = '', cpus = '', reason = '', nodes = ''] = l.split('|');
      const submitted = Date.parse(`${submit}Z`);
      status.jobs.push({
        id,
        state,
        submitted: Number.isFinite(submitted) ? submitted : status.now,
        cpus: Number(cpus) || 1,
        reason,
        nodes,
      });
    }
  }
  return status;
}

/** Jobs running and waiting, as listclusters shows them. */
export function countJobs(status: Pick<QueueStatus, 'jobs'>): { running: number; waiting: number } {
  let running = 0;
  let waiting = 0;
  for (const j of status.jobs) {
    if (j.state === 'RUNNING' || j.state === 'COMPLETING' || j.state === 'CONFIGURING') running += 1;
    else if (j.state === 'PENDING') waiting += 1;
  }
  return { running, waiting };
}

/** SGE commands a StarCluster user types, and what to type now. */
export const SGE_TO_SLURM: readonly (readonly [string, string])[] = [
  ['qsub', 'sbatch'],
  ['qstat', 'squeue'],
  ['qdel', 'scancel'],
  ['qhost', 'sinfo'],
];

export function sgeNotice(): string {
  return `the queue is Slurm now, not SGE: ${SGE_TO_SLURM.map(([a, b]) => `${a} → ${b}`).join(', ')} (MPI: mpirun --hostfile ${MPI_HOSTFILE}, or srun --mpi=pmix)`;
}
