import { UsageError } from '../errors.js';
import { BaseCommand } from './base-command.js';

/**
 * A StarCluster command of the instance-store world (AMIs bundled to S3, and S3 browsing): it
 * exists so a StarCluster user's script meets an explanation and exit 2, not "command not found".
 */
export abstract class GoneCommand extends BaseCommand<typeof GoneCommand> {
  static override strict = false;
  static override enableJsonFlag = true;
  /** Why it is gone, and what to do instead. */
  protected abstract readonly why: string;
  protected abstract readonly instead: string;

  async run(): Promise<never> {
    throw new UsageError('CommandGone', `${this.id ?? 'this command'} is not part of this StarCluster: ${this.why}`, {
      hint: this.instead,
    });
  }
}
