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
want=$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
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
# dev: ruff and mypy for `make lint`; test: what only the tests import (jsonschema).
# constraints.txt pins the versions the suite last passed with (`make constraints` refreshes it from .venv); the
# pins are for the Python minor version it was made with, so another Python installs without them.
made_for=$(sed -n 's/^# python \([0-9]*\.[0-9]*\).*/\1/p' constraints.txt 2>/dev/null | head -n1)
have=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -n "$made_for" ] && [ "$made_for" = "$have" ]; then
  if ! .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev,test,sql]"; then
    echo "warning: constraints.txt does not fit pyproject.toml; installing without it (run \`make constraints\`)" >&2
    .venv/bin/python -m pip install -q -e ".[dev,test,sql]"
  fi
else
  .venv/bin/python -m pip install -q -e ".[dev,test,sql]"
fi
echo "$want" > "$stamp"
