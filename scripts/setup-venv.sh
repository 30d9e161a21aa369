#!/usr/bin/env bash
# Create .venv with the drills package (editable) and its dependencies. Idempotent and quick when current.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
  echo "error: Python 3.10 or newer is needed ($PY)." >&2
  exit 3
fi

stamp=.venv/.drills-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ -x .venv/bin/drill ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
      echo "==> installing python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv
      "$PY" -m venv .venv
    else
      echo "error: '$PY -m venv' failed; install your distribution's venv package (python3-venv)." >&2
      exit 3
    fi
  fi
fi
echo "==> installing Python dependencies into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"   # dev: ruff and mypy for `make lint`
echo "$want" > "$stamp"
