import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { AbortError, ExitCode, StarclusterError, exitCodeOf } from '../errors.js';
import { loadConfig } from '../config/index.js';
import { redact, registerEnvSecrets } from '../secrets.js';
import { CliIoHost } from './cli-io-host.js';

/** Signals that interrupt a command: Ctrl-C, `kill`, and the terminal closing. */
const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * The base of every command: global flags, the IoHost, Ctrl-C handling and the error policy.
 * A command parses, calls one library function with `this.io` and `this.signal`, and returns its
 * result (printed as JSON under --json) after logging the human form with `this.io.log`.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    config: Flags.string({
      description: 'config file (default: $STARCLUSTER_CONFIG, then ~/.starcluster/config)',
      helpGroup: 'GLOBAL',
    }),
    region: Flags.string({
      description:
        'AWS region (default: [aws info] AWS_REGION_NAME, then $AWS_REGION, $AWS_DEFAULT_REGION, the profile in ~/.aws/config, us-east-1)',
      helpGroup: 'GLOBAL',
    }),
    debug: Flags.boolean({ description: 'show debug messages and stack traces', helpGroup: 'GLOBAL' }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  protected io!: CliIoHost;
  private readonly abort = new AbortController();
  private interrupts = 0;

  /** Fires on the first Ctrl-C: the running step cleans up, then the command exits 130. */
  protected get signal(): AbortSignal {
    return this.abort.signal;
  }

  public override async init(): Promise<void> {
    // Secrets are known before anything can print: the environment's, and the config file's (plugin
    // passwords, USERDATA_SCRIPTS assignments), whichever command runs and whether or not it reads them.
    registerEnvSecrets(process.env);
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.io = new CliIoHost({
      json: this.jsonEnabled(),
      debug: Boolean(this.flags.debug),
      assumeYes: this.assumeYes(),
    });
    // Reaches every provider this command makes, including those made deep in the library.
    if (this.flags.region) process.env.STARCLUSTER_REGION = this.flags.region;
    // Loading registers the config's secrets; its problems are the command's to report, not init's.
    await loadConfig({ ...(this.flags.config ? { path: this.flags.config } : {}) }).catch(() => undefined);
    // Closing the terminal (SIGHUP) or a `kill` (SIGTERM) rolls back like Ctrl-C.
    for (const signal of INTERRUPTS) process.on(signal, this.onInterrupt);
  }

  /** Commands with a `--confirm`/`-c` style flag override this. */
  protected assumeYes(): boolean {
    return false;
  }

  /**
   * How to remove what an interrupted run of this command leaves if the user does not wait for its
   * cleanup, e.g. `starcluster terminate mycluster`; commands that make things override it.
   */
  protected cleanupCommand(): string | undefined {
    return undefined;
  }

  /**
   * First signal: the running step stops and what this run made is rolled back, then exit 130.
   * Second: says what is made and not yet undone, and how to remove it later; the cleanup goes on.
   * Third: exits at once (the cleanup is abandoned; the second message said what to run).
   */
  private readonly onInterrupt = (signal: NodeJS.Signals): void => {
    this.interrupts += 1;
    // A closed terminal makes every write fail: keep cleaning up silently rather than crash.
    if (signal === 'SIGHUP') for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
    const how = this.cleanupCommand();
    if (this.interrupts === 1) {
      this.io?.error(
        `interrupted (${signal}): undoing what this run made; wait for it (Ctrl-C again to see what is left)`,
      );
      this.abort.abort();
    } else if (this.interrupts === 2) {
      const made = this.io?.madeSoFar() ?? [];
      this.io?.error(
        [
          `still undoing what this run made${made.length ? `; made so far: ${made.join('; ')}` : ''}.`,
          how
            ? `If you stop now, remove what is left with \`${how}\`.`
            : 'If you stop now, something this run made may be left behind.',
          'Ctrl-C once more to exit at once.',
        ].join(' '),
      );
    } else {
      this.io?.error(`exiting without finishing the cleanup${how ? `: run \`${how}\` to remove what is left` : ''}`);
      process.exit(ExitCode.interrupted);
    }
  };

  /**
   * oclif writes the --json result itself; it goes through the IoHost instead, the one redacted
   * path to stdout.
   */
  public override logJson(json: unknown): void {
    (this.io ?? new CliIoHost({ json: true, debug: false })).json(json);
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    // A parse failure happens before init() made the host: make one from the raw argv.
    this.io ??= new CliIoHost({ json: this.argv.includes('--json'), debug: this.argv.includes('--debug') });
    await this.io.close();
    // oclif's own parse errors (unknown flag, missing argument) are usage errors.
    if (!StarclusterError.is(error) && error instanceof Errors.CLIError) {
      const parseError = error as Errors.CLIError & { oclif?: { exit?: number } };
      if (parseError.oclif?.exit === 0) throw error;
      this.report(new StarclusterError('UsageError', error.message), ExitCode.usage);
      return this.exit(ExitCode.usage);
    }
    const failure =
      this.signal.aborted && !StarclusterError.is(error) ? new AbortError(undefined, { cause: error }) : error;
    const code = exitCodeOf(failure);
    this.report(failure, code);
    return this.exit(code);
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    for (const signal of INTERRUPTS) process.off(signal, this.onInterrupt);
    return super.finally(error);
  }

  private report(error: Error, code: number): void {
    const ours = StarclusterError.is(error);
    if (this.jsonEnabled()) {
      this.io.json({
        status: code,
        error: {
          code: ours ? error.code : 'UnexpectedError',
          message: redact(error.message),
          ...(ours && error.details.length ? { details: error.details.map(redact) } : {}),
          ...(ours && error.hint ? { hint: redact(error.hint) } : {}),
        },
      });
      return;
    }
    this.io.error(ours ? `error: ${error.message}` : `unexpected error: ${error.message}`);
    if (ours) {
      for (const line of error.details) this.io.error(`  ${line}`);
      if (error.hint) this.io.error(`hint: ${error.hint}`);
    }
    if (this.flags?.debug ?? this.argv.includes('--debug')) {
      this.io.error(redact(error.stack ?? ''));
      if (error.cause instanceof Error) this.io.error(`caused by: ${redact(error.cause.stack ?? error.cause.message)}`);
    } else if (!ours) {
      this.io.error('run again with --debug for the stack trace');
    }
  }
}
