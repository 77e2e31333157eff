import { z } from 'zod';
import { definePlugin, listSetting, onAllNodes, type PluginNode } from '../src/setup/plugins.js';
import { execChecked, shellQuote } from '../src/remote/types.js';

/** StarCluster's PackageInstaller: `apt-get install` PACKAGES on every node (apt only, as upstream). */
export function aptInstallCommand(packages: readonly string[]): string {
  const list = packages.map(shellQuote).join(' ');
  // Skip the network round trip when everything is already installed (e.g. baked into the AMI).
  return [
    `export DEBIAN_FRONTEND=noninteractive`,
    `missing=$(for p in ${list}; do dpkg-query -W -f='\${Status}\\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"; done)`,
    `[ -z "$missing" ] && exit 0`,
    `apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing`,
  ].join('\n');
}

const settings = z.object({ packages: z.string().min(1, 'PACKAGES lists the apt packages to install') }).strict();

async function install(node: PluginNode, packages: string[]): Promise<void> {
  await execChecked(node.ssh, aptInstallCommand(packages), { timeoutMs: 1_800_000 });
}

export default definePlugin({
  name: 'pkginstaller',
  settings,
  async run(ctx) {
    const packages = listSetting(ctx.settings.packages);
    ctx.log(`installing ${packages.join(', ')} on ${ctx.nodes.length} nodes`);
    await onAllNodes(ctx.nodes, (node) => install(node, packages));
  },
  async onAddNode(node, ctx) {
    await install(node, listSetting(ctx.settings.packages));
  },
});
