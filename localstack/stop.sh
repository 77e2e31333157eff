#!/usr/bin/env bash
# Stops the LocalStack that localstack/start.sh started (the process group its pid leads), and
# nothing else. Safe to run when it is not running.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="$here/.state"
pidfile="$state/localstack.pid"
[ -f "$pidfile" ] || { echo "localstack/stop.sh: not running"; exit 0; }
pid="$(cat "$pidfile")"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main'; then
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" || true; fi
  echo "localstack/stop.sh: stopped $pid"
else
  echo "localstack/stop.sh: pid $pid is not our LocalStack (already gone)"
fi
rm -f "$pidfile" "$state/localstack.endpoint"
