import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { runRepl } from '../cli/repl.js';
import { loadConfigOrEmpty } from '../cluster/session.js';
import { openShell } from '../cluster/shell.js';

export default class Shell extends BaseCommand<typeof Shell> {
  static override summary =
    'An interactive Node REPL with the config, the EC2 client and a cluster’s engines in scope.';
  static override description =
    'StarCluster’s IPython shell, in Node: `cfg` (the config), `ec2` (the account’s EC2Client from ' +
    '@aws-sdk/client-ec2: `await ec2.send(new (await import("@aws-sdk/client-ec2")).DescribeInstancesCommand({}))`), ' +
    '`provider`, and with -p CLUSTER a connected engine `client` with `dview` (DirectView on all engines) and ' +
    '`lview` (LoadBalancedView): `await lview.apply((x) => x * 2, 21).get()`. Top-level await works; .exit or Ctrl-D leaves.';
  static override aliases = ['sh'];
  static override examples = ['<%= config.bin %> shell', '<%= config.bin %> sh -p mycluster'];
  static override enableJsonFlag = false;
  static override flags = {
    ipcluster: Flags.string({
      char: 'p',
      description: 'connect an engine client to this cluster (StarCluster: its IPython cluster)',
    }),
  };

  async run(): Promise<void> {
    const session = await openShell({
      config: await loadConfigOrEmpty(this.flags.config),
      ...(this.flags.ipcluster ? { cluster: this.flags.ipcluster } : {}),
      ...(this.flags.region ? { region: this.flags.region } : {}),
    });
    try {
      await runRepl({
        scope: { ...session.scope },
        banner: ['starcluster shell; in scope:', ...session.names.map((n) => `  ${n.name.padEnd(8)} ${n.what}`)].join(
          '\n',
        ),
      });
    } finally {
      await session.close();
    }
  }
}
