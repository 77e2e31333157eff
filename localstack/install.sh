#!/usr/bin/env bash
# Makes localstack/.venv: LocalStack (localstack-core[runtime] 2026.3.0, the last open-source
# release) with every dependency pinned by requirements.lock, plus boto3 for independent checks.
# Idempotent: a stamp of the lock and the interpreter skips the work when nothing changed.
# LocalStack 2026.3.0 needs Python >= 3.13 (it imports warnings.deprecated); set
# LOCALSTACK_PYTHON to choose the interpreter.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
lock="$here/requirements.lock"
stamp="$venv/.starcluster-stamp"

find_python() {
  local candidates=()
  [ -n "${LOCALSTACK_PYTHON:-}" ] && candidates+=("$LOCALSTACK_PYTHON")
  candidates+=(python3.13 python3.14)
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root="$(pyenv root)"
    for d in "$root"/versions/3.13* "$root"/versions/3.14*; do
      [ -x "$d/bin/python3" ] && candidates+=("$d/bin/python3")
    done
  fi
  for d in "$HOME"/.pyenv/versions/3.13* /usr/local/bin/python3.13 /usr/bin/python3.13 python3; do
    [ -x "$d/bin/python3" ] && candidates+=("$d/bin/python3")
    candidates+=("$d")
  done
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 &&
      "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' 2>/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

python="$(find_python)" || {
  echo "localstack/install.sh: LocalStack 2026.3.0 needs Python >= 3.13 and none was found" >&2
  echo "  (set LOCALSTACK_PYTHON=/path/to/python3.13)" >&2
  exit 1
}
want="$(cat "$lock" <("$python" -VV) | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then exit 0; fi

echo "localstack/install.sh: installing LocalStack into $venv with $("$python" -V)" >&2
# Recreate only the interpreter if it changed; pip then brings the packages to the lock.
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)'; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r "$lock"
echo "$want" >"$stamp"
