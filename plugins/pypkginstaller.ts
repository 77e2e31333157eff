import { z } from 'zod';
import { definePlugin, listSetting, onAllNodes, type PluginNode } from '../src/setup/plugins.js';
import { execChecked, shellQuote } from '../src/remote/types.js';

/** StarCluster's PyPkgInstaller: `pip install` PACKAGES on every node; INSTALL_COMMAND has one %s. */
const settings = z
  .object({
    packages: z.string().min(1, 'PACKAGES lists the Python packages to install'),
    install_command: z
      .string()
      .refine((c) => c.includes('%s'), 'INSTALL_COMMAND must contain %s where the packages go')
      .default('pip install %s'),
  })
  .strict();

function command(installCommand: string, packages: string[]): string {
  return installCommand.replace('%s', packages.map(shellQuote).join(' '));
}

async function install(node: PluginNode, cmd: string): Promise<void> {
  await execChecked(node.ssh, cmd, { timeoutMs: 1_800_000 });
}

export default definePlugin({
  name: 'pypkginstaller',
  settings,
  async run(ctx) {
    const cmd = command(ctx.settings.install_command, listSetting(ctx.settings.packages));
    ctx.log(cmd);
    await onAllNodes(ctx.nodes, (node) => install(node, cmd));
  },
  async onAddNode(node, ctx) {
    await install(node, command(ctx.settings.install_command, listSetting(ctx.settings.packages)));
  },
});
