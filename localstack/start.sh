#!/usr/bin/env bash
# Starts LocalStack (EC2 and SSM) on the host, on a free port of 127.0.0.1, with state and logs under
# localstack/.state; waits until /_localstack/health shows ec2 and ssm available and the init hooks
# (localstack/init: the test fleet's, see ready.d/starcluster-fleet.py) have run; prints the endpoint URL
# as its last line. If the LocalStack this script started is still running and healthy, it just
# prints its endpoint. Stop it with localstack/stop.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="$here/.state"
pidfile="$state/localstack.pid"
endpointfile="$state/localstack.endpoint"
log="$state/localstack.log"
timeout="${LOCALSTACK_START_TIMEOUT:-240}"
mkdir -p "$state"

healthy() {
  # $1: endpoint. Exit 0 when LocalStack answers, reports ec2 and ssm available (or running) and its
  # ready-stage init hooks ran; 2 when it answers but was started without ssm (an older start.sh).
  "$here/.venv/bin/python" - "$1" <<'PY' 2>/dev/null
import json, sys, urllib.request
ok = ("available", "running")
try:
    with urllib.request.urlopen(sys.argv[1] + "/_localstack/health", timeout=2) as r:
        services = json.load(r).get("services", {})
    with urllib.request.urlopen(sys.argv[1] + "/_localstack/init/ready", timeout=2) as r:
        ready = json.load(r).get("completed") is True
except Exception:
    sys.exit(1)
if services.get("ec2") in ok and "ssm" not in services:
    sys.exit(2)
sys.exit(0 if services.get("ec2") in ok and services.get("ssm") in ok and ready else 1)
PY
}

ours() {
  # True when the pid in the pid file is alive and is the LocalStack this script started.
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main'
}

# One start at a time (the test setup and CI may race).
exec 9>"$state/localstack-start.lock"
flock 9

"$here/install.sh"

if ours && [ -f "$endpointfile" ]; then
  rc=0
  healthy "$(cat "$endpointfile")" || rc=$?
  if [ "$rc" = 0 ]; then
    cat "$endpointfile"
    exit 0
  fi
  if [ "$rc" = 2 ]; then
    echo "localstack/start.sh: the running LocalStack has no ssm (started by an older start.sh); restarting it" >&2
    "$here/stop.sh" >&2
  fi
fi
if ours; then
  # Started but not healthy yet (another start is waiting), or wedged: wait below, then give up.
  endpoint="$(cat "$endpointfile")"
  pid="$(cat "$pidfile")"
else
  rm -f "$pidfile" "$endpointfile"
  port="$("$here/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  endpoint="http://127.0.0.1:$port"
  mkdir -p "$state/filesystem"
  # Init hooks (run inside LocalStack): LocalStack looks for them under FILESYSTEM_ROOT/etc/localstack/init.
  rm -rf "$state/filesystem/etc/localstack/init"
  mkdir -p "$state/filesystem/etc/localstack"
  cp -r "$here/init" "$state/filesystem/etc/localstack/init"
  # A new session, so stop.sh can end the whole process group it leads and nothing else.
  GATEWAY_LISTEN="127.0.0.1:$port" \
    SERVICES=ec2,ssm \
    DNS_ADDRESS=0 \
    EAGER_SERVICE_LOADING=1 \
    DISABLE_EVENTS=1 \
    SKIP_INFRA_DOWNLOADS=1 \
    LOCALSTACK_VOLUME_DIR="$state/filesystem/var/lib/localstack" \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    OVERRIDE_IN_DOCKER=0 \
    FILESYSTEM_ROOT="$state/filesystem" \
    STARCLUSTER_FLEET_STATE="${FLEET_STATE:-$state/fleet}" \
    setsid "$here/.venv/bin/python" -m localstack.runtime.main >"$log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$pidfile"
  echo "$endpoint" >"$endpointfile"
fi

deadline=$((SECONDS + timeout))
until healthy "$endpoint"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "localstack/start.sh: LocalStack exited during start; last lines of $log:" >&2
    tail -n 30 "$log" >&2 || true
    rm -f "$pidfile" "$endpointfile"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "localstack/start.sh: LocalStack not healthy after ${timeout}s; see $log (stop it with localstack/stop.sh)" >&2
    exit 1
  fi
  sleep 0.5
done
echo "$endpoint"
