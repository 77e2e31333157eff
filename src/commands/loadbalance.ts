import { join } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { loadBalance, type LoadBalanceResult } from '../cluster/balance.js';
import { UsageError } from '../errors.js';
import { clusterStateDir } from '../paths.js';

export default class LoadBalance extends BaseCommand<typeof LoadBalance> {
  static override summary = "Grow and shrink a cluster by its Slurm queue (StarCluster's bal), until Ctrl-C.";
  static override description = [
    'Every interval it reads the queue on the master. Jobs that have waited longer than --wait-time get nodes',
    '(up to --max-nodes, --add-nodes-per-iter at a time); workers idle longer than --kill-after minutes are',
    'drained and removed when nothing waits (down to --min-nodes; never the master, never a node with a job).',
    'Ctrl-C stops it after the change in progress. --json prints the log of its decisions.',
  ].join(' ');
  static override aliases = ['bal'];
  static override examples = [
    '<%= config.bin %> loadbalance mycluster -m 8',
    '<%= config.bin %> bal mycluster -m 4 -n 1 -w 60 -k 5 -i 30 -d -p',
  ];
  static override args = { name: Args.string({ required: true, description: 'cluster name' }) };
  static override flags = {
    max_nodes: Flags.integer({ char: 'm', description: 'most nodes, master included (default: CLUSTER_SIZE)', min: 1 }),
    min_nodes: Flags.integer({ char: 'n', description: 'fewest nodes, master included (default 1)', min: 1 }),
    add_nodes_per_iter: Flags.integer({ char: 'a', description: 'most nodes added at a time (default 1)', min: 1 }),
    job_wait_time: Flags.integer({
      char: 'w',
      description: 'seconds the oldest job may wait before nodes are added (default 900)',
      min: 0,
    }),
    kill_after: Flags.string({
      char: 'k',
      description: 'minutes a node must be idle before it is removed (default 45; decimals allowed)',
    }),
    stabilization_time: Flags.integer({
      char: 's',
      description: 'seconds after a change before the next one (default 180)',
      min: 0,
    }),
    interval: Flags.integer({ char: 'i', description: 'seconds between looks at the queue (default 60)', min: 1 }),
    'dump-stats': Flags.boolean({
      char: 'd',
      description: 'write the queue over time as CSV: ~/.starcluster/clusters/NAME/loadbalance.csv',
    }),
    'dump-stats-file': Flags.string({ char: 'D', description: 'write that CSV here instead (implies -d)' }),
    'plot-stats': Flags.boolean({
      char: 'p',
      description: 'plot nodes and jobs over time when it stops: ~/.starcluster/clusters/NAME/loadbalance.svg',
    }),
    'plot-output-dir': Flags.string({ char: 'P', description: 'where -p writes its figure (implies -p)' }),
  };

  async run(): Promise<LoadBalanceResult> {
    const f = this.flags;
    const killAfter = f.kill_after === undefined ? undefined : Number(f.kill_after);
    if (killAfter !== undefined && !(killAfter >= 0))
      throw new UsageError('KillAfter', `--kill-after ${f.kill_after} is not a number of minutes`);
    const home = clusterStateDir(this.args.name);
    const dumpFile = f['dump-stats-file'] ?? (f['dump-stats'] ? join(home, 'loadbalance.csv') : undefined);
    const plotDir = f['plot-output-dir'] ?? (f['plot-stats'] ? home : undefined);
    const result = await loadBalance({
      name: this.args.name,
      ...(f.config ? { configPath: f.config } : {}),
      io: this.io,
      signal: this.signal,
      params: {
        ...(f.max_nodes !== undefined ? { maxNodes: f.max_nodes } : {}),
        ...(f.min_nodes !== undefined ? { minNodes: f.min_nodes } : {}),
        ...(f.add_nodes_per_iter !== undefined ? { addPerIteration: f.add_nodes_per_iter } : {}),
        ...(f.job_wait_time !== undefined ? { waitTimeS: f.job_wait_time } : {}),
        ...(killAfter !== undefined ? { idleTimeS: killAfter * 60 } : {}),
        ...(f.stabilization_time !== undefined ? { stabilizationS: f.stabilization_time } : {}),
      },
      ...(f.interval !== undefined ? { intervalS: f.interval } : {}),
      ...(dumpFile ? { dumpFile } : {}),
      ...(plotDir ? { plotDir } : {}),
    });
    const changes = result.decisions.filter((d) => d.decision.action !== 'wait');
    this.io.log(
      `${result.iterations} look(s) at the queue, ${changes.length} change(s)${result.files.length ? `; wrote ${result.files.join(', ')}` : ''}`,
    );
    return result;
  }
}
