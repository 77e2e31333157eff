import { BaseCommand } from '../../cli/base-command.js';
import { configPathInfo } from '../../config/index.js';
import type { ConfigPathInfo } from '../../config/index.js';

const WHY = { flag: 'from --config', env: 'from $STARCLUSTER_CONFIG', default: 'the default' } as const;

export default class ConfigPath extends BaseCommand<typeof ConfigPath> {
  static override summary = 'Print which config file would be used, and whether it exists.';
  static override description =
    'The order is --config, then $STARCLUSTER_CONFIG, then ~/.starcluster/config ($STARCLUSTER_HOME moves ~/.starcluster).';
  static override examples = ['<%= config.bin %> config path'];

  async run(): Promise<ConfigPathInfo> {
    const info = await configPathInfo({ path: this.flags.config });
    this.io.log(
      `${info.path} (${WHY[info.source]}; ${info.exists ? 'exists' : 'does not exist: run `starcluster config init`'})`,
    );
    return info;
  }
}
