import { z } from 'zod';
import { definePlugin, listSetting, onAllNodes } from '../src/setup/plugins.js';

/**
 * StarCluster's PackageInstaller: installs PACKAGES on every node with the node's own package
 * manager (apt on Debian/Ubuntu, dnf on Amazon Linux; see src/setup/packages.ts): only what is
 * missing, lock waits and mirror retries included. Names are the distribution's package names.
 */
const settings = z
  .object({ packages: z.string().min(1, 'PACKAGES lists the packages to install (apt or dnf names)') })
  .strict();

export default definePlugin({
  name: 'pkginstaller',
  settings,
  async run(ctx) {
    const packages = listSetting(ctx.settings.packages);
    ctx.log(`installing ${packages.join(', ')} on ${ctx.nodes.length} nodes`);
    await onAllNodes(ctx.nodes, async (node) => {
      await node.install(packages);
    });
  },
  async onAddNode(node, ctx) {
    await node.install(listSetting(ctx.settings.packages));
  },
});
