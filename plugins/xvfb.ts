import { z } from 'zod';
import { definePlugin, onAllNodes, type PluginNode } from '../src/setup/plugins.js';
import { execChecked } from '../src/remote/types.js';

/** StarCluster's XvfbSetup: Xvfb on display :1 on every node, DISPLAY exported for every login. */
export const XVFB_SCRIPT = [
  `pgrep -x Xvfb >/dev/null || (nohup Xvfb :1 -screen 0 1024x768x24 >/var/log/xvfb.log 2>&1 &)`,
  `echo 'export DISPLAY=:1' > /etc/profile.d/xvfb.sh`,
].join('\n');

async function setUp(node: PluginNode): Promise<void> {
  await node.install(['xvfb']);
  await execChecked(node.ssh, XVFB_SCRIPT);
}

export default definePlugin({
  name: 'xvfb',
  settings: z.object({}).strict(),
  async run(ctx) {
    await onAllNodes(ctx.nodes, setUp);
  },
  onAddNode: (node) => setUp(node),
  async onShutdown(ctx) {
    await onAllNodes(ctx.nodes, async (node) => {
      await node.ssh.exec('pkill -x Xvfb || true');
    });
  },
});
