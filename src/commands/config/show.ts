import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTemplate, showTemplate } from '../../config/index.js';

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Show a cluster template as it will be used.';
  static override description =
    'Prints the template after EXTENDS, with every default filled in and its key, volumes, permissions and ' +
    'plugins inlined. Secret plugin settings are shown as ***. Without TEMPLATE, [global] DEFAULT_TEMPLATE.';
  static override examples = [
    '<%= config.bin %> config show smallcluster',
    '<%= config.bin %> config show local --json',
  ];
  static override args = {
    template: Args.string({ description: 'cluster template (default: DEFAULT_TEMPLATE)', required: false }),
  };

  async run(): Promise<Record<string, unknown>> {
    const settings = await showTemplate({ path: this.flags.config, template: this.args.template });
    this.io.log(renderTemplate(settings));
    return settings;
  }
}
