import type { ClusterTemplate } from '../config/types.js';
import { execChecked } from '../remote/types.js';
import type { Step } from '../steps.js';
import { shellQuote } from '../shell.js';
import type { NodeAccess, SetupNode } from './session.js';
import { onNodes } from './session.js';

/**
 * MAX_LIFETIME and IDLE_SHUTDOWN: every node runs a small check once a minute and powers itself
 * off when its lifetime is over or it has been idle long enough. Nodes were launched with
 * InstanceInitiatedShutdownBehavior = terminate, so a node that powers off is terminated and its
 * bill ends, whether or not anyone remembers the cluster. What a cluster leaves behind (its
 * security group, placement group) carries the cluster tag: `starcluster terminate NAME` removes it.
 *
 * Idle means, for IDLE_SHUTDOWN minutes in a row: no login session (utmp) and no SSH connection,
 * no Slurm job (on the master: none in the queue; on a node: none on it), and the cluster user's
 * processes (the engines) used under one CPU-second per check. The check runs from a systemd timer
 * where systemd runs the node, else from a loop in its own session.
 */
export const AUTOSTOP_SCRIPT = `#!/bin/sh
# starcluster autostop (MAX_LIFETIME, IDLE_SHUTDOWN): runs once a minute; see src/setup/autostop.ts.
set -u
CONF=\${1:-/etc/starcluster/autostop.conf}
. "$CONF"
STATE=\${STATE:-/var/lib/starcluster/autostop}
mkdir -p "$STATE"
now=$(date +%s)
off() {
  echo "$1" > "$STATE/reason"
  logger -t starcluster "autostop: $1; powering off" 2>/dev/null || true
  sh -c "$POWEROFF"
  exit 0
}
if [ -n "\${DEADLINE:-}" ] && [ "$now" -ge "$DEADLINE" ]; then off "MAX_LIFETIME reached"; fi
[ -n "\${IDLE_SECONDS:-}" ] || exit 0
busy=
[ -n "$(who 2>/dev/null)" ] && busy=login
if [ -z "$busy" ] && command -v ss >/dev/null 2>&1; then
  [ -n "$(ss -Htn state established '( sport = :22 )' 2>/dev/null)" ] && busy=ssh
fi
if [ -z "$busy" ] && command -v squeue >/dev/null 2>&1; then
  if [ "$ROLE" = master ]; then jobs=$(squeue -h 2>/dev/null); else jobs=$(squeue -h -w "$(hostname)" 2>/dev/null); fi
  [ -n "$jobs" ] && busy=slurm
fi
ticks=0
for pid in $(pgrep -u "$CLUSTER_USER" 2>/dev/null); do
  t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || t=0
  ticks=$((ticks + \${t:-0}))
done
last=$(cat "$STATE/ticks" 2>/dev/null || echo "$ticks")
echo "$ticks" > "$STATE/ticks"
[ -z "$busy" ] && [ $((ticks - last)) -gt "$(getconf CLK_TCK)" ] && busy=engines
if [ -n "$busy" ] || [ ! -f "$STATE/active" ]; then
  touch "$STATE/active"
  exit 0
fi
idle=$((now - $(stat -c %Y "$STATE/active")))
[ "$idle" -ge "$IDLE_SECONDS" ] && off "idle for $((idle / 60)) min (IDLE_SHUTDOWN)"
exit 0
`;

export interface AutostopSettings {
  /** Epoch seconds after which the node powers off (launch time + MAX_LIFETIME). */
  deadline?: number;
  /** IDLE_SHUTDOWN in seconds. */
  idleSeconds?: number;
  role: 'master' | 'node';
  clusterUser: string;
  /** What powers the node off (tests put a stand-in here); default `shutdown -h now`. */
  poweroff?: string;
  /** Where the check keeps its marks (default /var/lib/starcluster/autostop). */
  stateDir?: string;
}

/** /etc/starcluster/autostop.conf: shell assignments the check sources. */
export function autostopConfig(s: AutostopSettings): string {
  return [
    ...(s.deadline !== undefined ? [`DEADLINE=${Math.floor(s.deadline)}`] : []),
    ...(s.idleSeconds !== undefined ? [`IDLE_SECONDS=${Math.floor(s.idleSeconds)}`] : []),
    `ROLE=${s.role}`,
    `CLUSTER_USER=${shellQuote(s.clusterUser)}`,
    `POWEROFF=${shellQuote(s.poweroff ?? 'shutdown -h now')}`,
    ...(s.stateDir ? [`STATE=${shellQuote(s.stateDir)}`] : []),
    '',
  ].join('\n');
}

/** The settings of one node: its deadline from the launch time EC2 recorded (else now). */
export function autostopSettingsFor(
  template: Pick<ClusterTemplate, 'maxLifetime' | 'idleShutdown' | 'clusterUser'>,
  node: { role: 'master' | 'node'; launchTime?: Date },
  now: Date = new Date(),
): AutostopSettings {
  const launched = (node.launchTime ?? now).getTime() / 1000;
  return {
    ...(template.maxLifetime !== undefined ? { deadline: launched + template.maxLifetime * 60 } : {}),
    ...(template.idleShutdown !== undefined ? { idleSeconds: template.idleShutdown * 60 } : {}),
    role: node.role,
    clusterUser: template.clusterUser,
  };
}

/**
 * Runs the check every minute: a systemd timer where systemd is pid 1, else a loop in its own session.
 * The first check comes a minute after setup installs it (OnActiveSec, not OnBootSec, which on a node
 * up for over a minute fires at once): a node whose MAX_LIFETIME ran out during its setup powers off
 * after that setup, not inside the SSH session that installs the check.
 */
export const AUTOSTOP_INSTALL = `set -e
chmod 755 /usr/local/sbin/starcluster-autostop
if [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/starcluster-autostop.service <<'EOF'
[Unit]
Description=starcluster: power off after MAX_LIFETIME or IDLE_SHUTDOWN
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/starcluster-autostop
EOF
  cat > /etc/systemd/system/starcluster-autostop.timer <<'EOF'
[Unit]
Description=starcluster: check MAX_LIFETIME and IDLE_SHUTDOWN every minute
[Timer]
OnActiveSec=1min
OnUnitActiveSec=1min
[Install]
WantedBy=timers.target
EOF
  systemctl daemon-reload
  systemctl enable --now starcluster-autostop.timer
else
  pidfile=/var/lib/starcluster/autostop.pid
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  setsid sh -c 'echo $$ > /var/lib/starcluster/autostop.pid; while :; do sleep 60; /usr/local/sbin/starcluster-autostop; done' </dev/null >/dev/null 2>&1 &
fi
`;

/** The setup step that installs the check on the nodes this run sets up (start and addnode). */
export function autostopStep<
  S extends {
    ctx: { template: ClusterTemplate };
    access: NodeAccess;
    targets: SetupNode[];
  },
>(): Step<S> {
  return {
    id: 'setup-autostop',
    title: 'Installing MAX_LIFETIME / IDLE_SHUTDOWN',
    skip: (s) =>
      s.ctx.template.maxLifetime === undefined && s.ctx.template.idleShutdown === undefined
        ? 'no MAX_LIFETIME or IDLE_SHUTDOWN'
        : false,
    run: async (s) => {
      await onNodes('installing autostop', s.targets, async (n) => {
        const root = s.access.host(n, 'root');
        const settings = autostopSettingsFor(s.ctx.template, n.record);
        await execChecked(root, 'mkdir -p /etc/starcluster /var/lib/starcluster');
        await root.writeFile('/usr/local/sbin/starcluster-autostop', AUTOSTOP_SCRIPT, 0o755);
        await root.writeFile('/etc/starcluster/autostop.conf', autostopConfig(settings), 0o644);
        await execChecked(root, AUTOSTOP_INSTALL);
      });
    },
  };
}
