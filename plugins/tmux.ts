import { z } from 'zod';
import { definePlugin, type PluginContext } from '../src/setup/plugins.js';
import { execChecked, shellQuote as q } from '../src/remote/types.js';

/**
 * StarCluster's TmuxControlCenter: a tmux session ENVNAME on the master, for root and the cluster
 * user, with one window per node already logged in to it (`starcluster sshmaster C -u USER` then
 * `tmux attach -t ENVNAME`).
 */
const settings = z
  .object({
    envname: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default('starcluster'),
  })
  .strict();
type Settings = z.infer<typeof settings>;

export function tmuxScript(session: string, aliases: readonly string[]): string {
  const s = q(session);
  return [
    `command -v tmux >/dev/null || { echo 'tmux is not installed (add it with the pkginstaller plugin)' >&2; exit 1; }`,
    `tmux has-session -t ${s} 2>/dev/null || tmux new-session -d -s ${s} -n master`,
    ...aliases
      .filter((a) => !a.endsWith('master'))
      .map(
        (a) =>
          `tmux list-windows -t ${s} -F '#W' | grep -qx ${q(a)} || tmux new-window -d -t ${s} -n ${q(a)} ${q(`ssh ${a}`)}`,
      ),
  ].join('\n');
}

async function refresh(ctx: PluginContext<Settings>): Promise<void> {
  await ctx.master.install(['tmux']);
  const script = tmuxScript(
    ctx.settings.envname,
    ctx.nodes.map((n) => n.alias),
  );
  await execChecked(ctx.master.ssh, script);
  await execChecked(ctx.master.as(ctx.user), script);
}

export default definePlugin({
  name: 'tmux',
  settings,
  run: refresh,
  onAddNode: (_node, ctx) => refresh(ctx),
  async onRemoveNode(node, ctx) {
    for (const host of [ctx.master.ssh, ctx.master.as(ctx.user)]) {
      await host.exec(`tmux kill-window -t ${q(`${ctx.settings.envname}:${node.alias}`)} 2>/dev/null || true`);
    }
  },
  async onShutdown(ctx) {
    await ctx.master.ssh.exec(`tmux kill-session -t ${q(ctx.settings.envname)} 2>/dev/null || true`);
  },
});
