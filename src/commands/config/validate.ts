import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { validateConfig } from '../../config/index.js';
import type { ConfigValidateResult } from '../../config/index.js';

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate> {
  static override summary = 'Check the config file and report every problem at once.';
  static override description =
    'Reads the config (and its INCLUDEs) offline and checks every section: unknown or misspelt settings, ' +
    'wrong types, missing required settings, EXTENDS chains and names that point nowhere, and loads every ' +
    'plugin a template uses (SETUP_CLASS), as start would. Each problem is ' +
    'printed as FILE:LINE: message; the exit status is 3 if there are any. With TEMPLATE, also checks that ' +
    'the template exists.';
  static override examples = ['<%= config.bin %> config validate', '<%= config.bin %> config validate smallcluster'];
  static override args = {
    template: Args.string({ description: 'cluster template that must exist', required: false }),
  };

  async run(): Promise<Pick<ConfigValidateResult, 'path' | 'templates' | 'valid' | 'warnings'>> {
    const result = await validateConfig({ path: this.flags.config, template: this.args.template });
    for (const warning of result.warnings) this.io.notify({ level: 'warn', code: 'SC_CONFIG_W0001', message: warning });
    const names = result.templates.map((n) => (n === result.defaultTemplate ? `${n} (default)` : n));
    const count = `${result.templates.length} cluster template${result.templates.length === 1 ? '' : 's'}`;
    this.io.log(`${result.path} is valid: ${count}${names.length ? `: ${names.join(', ')}` : ''}`);
    return { path: result.path, templates: result.templates, valid: result.valid, warnings: result.warnings };
  }
}
