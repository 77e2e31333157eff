import { openInBrowser } from '../cli/browser.js';
import { loadConfigOrEmpty } from '../cluster/session.js';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { UsageError } from '../errors.js';
import { parseParamFlags } from '../jobs/params.js';
import { renderRunResult, runJob, type RunJobResult } from '../jobs/index.js';
import { SCHEMES } from '../jobs/run.js';

export default class Run extends BaseCommand<typeof Run> {
  static override summary = 'Run a TypeScript job on a cluster’s engines.';
  static override description =
    'Bundles JOB.ts and its imports with esbuild, ships the bundle once to every engine, streams the job’s ' +
    'tasks through a load-balanced view (progress: tasks done, rate, ETA), reduces the results here and ' +
    'writes the job’s figures (SVG and PNG) to --out. Without -c it uses the only running cluster; ' +
    '--local runs on a throwaway cluster of -n engine processes on this machine. ' +
    '--pipeline sends the tasks through a PUSH/PULL pipeline instead of the controller: a distributor and ' +
    'a collector on this machine’s 127.0.0.1, and one worker per engine slot — on every node of the cluster ' +
    '(reached through SSH reverse tunnels, CURVE-encrypted with the cluster’s keys, all stopped when the run ends), ' +
    'or with --local as -n processes here.';
  static override examples = [
    '<%= config.bin %> run jobs/pi.ts --local -n 2 --param samples=1e10',
    '<%= config.bin %> run jobs/star-periods.ts -c mycluster --param data=../shared/data/s82-rrlyrae --param format=s82',
    '<%= config.bin %> run job.ts --json',
    '<%= config.bin %> run jobs/star-periods.ts --local --time-limit 120',
    '<%= config.bin %> run jobs/pi.ts --pipeline -c mycluster --param samples=1e9',
    '<%= config.bin %> run jobs/pi.ts --pipeline --local -n 4',
  ];
  static override args = {
    job: Args.string({ required: true, description: 'job file (.ts or .js) whose default export is defineJob({...})' }),
  };
  static override flags = {
    cluster: Flags.string({
      char: 'c',
      description: 'cluster to run on (default: the only running one)',
      exclusive: ['local'],
    }),
    local: Flags.boolean({ description: 'run on a throwaway local cluster (started and stopped by this command)' }),
    engines: Flags.integer({
      char: 'n',
      description: 'engines of the --local cluster (default: this machine’s cores)',
      min: 1,
      dependsOn: ['local'],
    }),
    pipeline: Flags.boolean({
      description:
        'run the tasks through a PUSH/PULL pipeline instead of the controller: one worker per engine slot on every ' +
        'node of the cluster (through SSH reverse tunnels), or -n worker processes here with --local',
      exclusive: ['scheme'],
    }),
    param: Flags.string({ char: 'p', description: 'job parameter as key=value (repeatable)', multiple: true }),
    scheme: Flags.string({ description: 'task scheduler scheme', options: [...SCHEMES] }),
    out: Flags.string({ char: 'o', description: 'folder for figures (default: ./starcluster-out/<job>/)' }),
    'time-limit': Flags.string({
      description:
        'seconds one task may run on its engine (decimals allowed); a task running longer is stopped and fails the run',
    }),
  };

  async run(): Promise<RunJobResult> {
    const result = await runJob({
      file: this.args.job,
      target: this.flags.local
        ? { local: this.flags.engines ?? 'auto', pipeline: this.flags.pipeline }
        : { cluster: this.flags.cluster, pipeline: this.flags.pipeline },
      params: parseParamFlags(this.flags.param),
      scheme: this.flags.scheme,
      ...timeLimit(this.flags['time-limit']),
      outDir: this.flags.out,
      io: this.io,
      signal: this.signal,
    });
    this.io.log(renderRunResult(result));
    await this.openFigures(result.figures);
    return result;
  }

  /** [global] WEB_BROWSER opens the figures (SVG), at a terminal only; a config problem never fails the run. */
  private async openFigures(figures: readonly string[]): Promise<void> {
    if (figures.length === 0 || !this.io.interactive) return;
    const browser = await loadConfigOrEmpty(this.flags.config).then(
      (config) => config.global.webBrowser,
      () => undefined,
    );
    if (!browser) return;
    const svg = figures.filter((f) => f.endsWith('.svg'));
    const opened = await openInBrowser(browser, svg.length ? svg : figures, { interactive: this.io.interactive });
    this.io.notify({ level: opened.opened ? 'info' : 'warn', code: 'SC_RUN_I0100', message: opened.detail });
  }
}

/** `--time-limit SECONDS` → the library's milliseconds; refuses what is not a positive number. */
function timeLimit(flag: string | undefined): { timeLimitMs?: number } {
  if (flag === undefined) return {};
  const seconds = Number(flag);
  if (!(flag.trim() !== '' && Number.isFinite(seconds) && seconds > 0)) {
    throw new UsageError(
      'BadTimeLimit',
      `--time-limit ${JSON.stringify(flag)} is not a positive number of seconds: give the seconds one task may run, e.g. --time-limit 60`,
    );
  }
  return { timeLimitMs: seconds * 1000 };
}
