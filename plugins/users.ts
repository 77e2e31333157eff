import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { definePlugin, listSetting, onAllNodes, type PluginContext, type PluginNode } from '../src/setup/plugins.js';
import { execChecked, shellQuote as q } from '../src/remote/types.js';

/**
 * StarCluster's CreateUsers: NUM_USERS users (user001...) and/or USERNAMES, the same uid on every
 * node, each with passwordless SSH between nodes (a key per user in the shared /home, made on the
 * master). DOWNLOAD_KEYS copies their private keys to DOWNLOAD_KEYS_DIR
 * (default ~/.starcluster/user_keys/CLUSTER).
 */
const bool = z.union([z.boolean(), z.string()]).transform((v) => v === true || /^(true|yes|1|on)$/i.test(String(v)));
const settings = z
  .object({
    num_users: z.coerce.number().int().min(0).max(1000).default(0),
    usernames: z.string().default(''),
    download_keys: bool.default(false),
    download_keys_dir: z.string().optional(),
  })
  .strict()
  .refine((s) => s.num_users > 0 || s.usernames.trim() !== '', 'set NUM_USERS or USERNAMES');

type Settings = z.infer<typeof settings>;

export function userNames(s: Pick<Settings, 'num_users' | 'usernames'>): string[] {
  const named = listSetting(s.usernames);
  const numbered = Array.from(
    { length: Math.max(0, s.num_users - named.length) },
    (_, i) => `user${String(i + 1).padStart(3, '0')}`,
  );
  return [...named, ...numbered];
}

/** uid for each user: existing ones keep theirs (read on the master), new ones follow the highest uid. */
async function uids(master: PluginNode, users: string[]): Promise<Map<string, number>> {
  const out = await execChecked(
    master.ssh,
    `max=$(getent passwd | awk -F: '$3>=1000 && $3<60000 {print $3}' | sort -n | tail -1); echo "max \${max:-999}"; ` +
      users.map((u) => `echo "${u} $(id -u ${q(u)} 2>/dev/null || echo -)"`).join('; '),
  );
  const map = new Map<string, number>();
  let next = 1000;
  const lines = out.stdout.trim().split('\n');
  for (const line of lines) {
    const [name, value] = line.split(' ');
    if (name === 'max') next = Number(value) + 1;
  }
  for (const line of lines) {
    const [name, value] = line.split(' ');
    if (name && name !== 'max') map.set(name, value === '-' ? next++ : Number(value));
  }
  return map;
}

function createScript(users: Map<string, number>, shell: string): string {
  return [...users]
    .map(
      ([u, uid]) =>
        `id -u ${q(u)} >/dev/null 2>&1 || { groupadd -o -g ${uid} ${q(u)} 2>/dev/null; useradd -o -u ${uid} -g ${uid} -m -s "$(command -v ${q(shell)} || echo /bin/bash)" ${q(u)}; }`,
    )
    .join('\n');
}

function keyScript(user: string): string {
  const ssh = `/home/${user}/.ssh`;
  return [
    `mkdir -p ${q(ssh)}`,
    `[ -f ${q(`${ssh}/id_ed25519`)} ] || ssh-keygen -q -t ed25519 -N '' -C ${q(user)} -f ${q(`${ssh}/id_ed25519`)}`,
    `touch ${q(`${ssh}/authorized_keys`)}`,
    `grep -qxF "$(cat ${q(`${ssh}/id_ed25519.pub`)})" ${q(`${ssh}/authorized_keys`)} || cat ${q(`${ssh}/id_ed25519.pub`)} >> ${q(`${ssh}/authorized_keys`)}`,
    `chmod 700 ${q(ssh)}; chmod 600 ${q(`${ssh}/authorized_keys`)} ${q(`${ssh}/id_ed25519`)}; chown -R ${q(user)}: ${q(ssh)}`,
  ].join('\n');
}

async function setUp(ctx: PluginContext<Settings>, nodes: PluginNode[], keys: boolean): Promise<Map<string, number>> {
  const users = await uids(ctx.master, userNames(ctx.settings));
  const script = createScript(users, ctx.shell);
  await onAllNodes(nodes, async (node) => {
    await execChecked(node.ssh, script);
  });
  // /home is shared from the master: one key per user, made there.
  if (keys) await execChecked(ctx.master.ssh, [...users.keys()].map(keyScript).join('\n'));
  return users;
}

export default definePlugin({
  name: 'users',
  settings,
  async run(ctx) {
    const users = await setUp(ctx, ctx.nodes, true);
    ctx.log(`${users.size} users: ${[...users.keys()].join(', ')}`);
    if (ctx.settings.download_keys) {
      const dir = ctx.settings.download_keys_dir ?? join(ctx.stateDir, '..', '..', 'user_keys', ctx.cluster);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const user of users.keys()) {
        const key = await ctx.master.ssh.readFile(`/home/${user}/.ssh/id_ed25519`);
        await writeFile(join(dir, `${user}.key`), key, { mode: 0o600 });
      }
      ctx.log(`private keys in ${dir}`);
    }
  },
  async onAddNode(node, ctx) {
    await setUp(ctx, [node], false);
  },
});
