#!/usr/bin/env bash
# Make sure `docker-compose` (v1, Debian's package) or `docker compose` (v2 plugin) runs; the example system in
# examples/redis-orders is a compose project. Where either already works (a laptop), touch nothing. On Debian
# as root: install Debian's docker-compose. Prints the command to use (`docker-compose` or `docker compose`)
# on stdout, so callers can do `COMPOSE=$(scripts/ensure-compose.sh)`; everything else goes to stderr.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
  echo docker-compose
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  echo "docker compose"
  exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "error: neither docker-compose nor 'docker compose' is installed." >&2
  echo "hint: install Docker Compose (Debian/Ubuntu: 'sudo apt-get install docker-compose'; Docker Desktop has it)," \
       "then run this again." >&2
  exit 3
fi

echo "==> installing docker-compose (Debian's package)" >&2
. "$(dirname "$0")/lib/debian-install.sh"
debian_install docker-compose
if ! docker-compose version >/dev/null 2>&1; then
  echo "error: docker-compose was installed but does not run:" >&2
  docker-compose version >&2 || true
  exit 3
fi
echo "==> $(docker-compose version --short 2>/dev/null || echo docker-compose) installed" >&2
echo docker-compose
