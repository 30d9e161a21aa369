#!/usr/bin/env bash
# Make sure a Docker engine answers. On a machine where one already does (a laptop), touch nothing.
# On Debian as root with none running: install docker.io if needed and start dockerd in the background.
set -euo pipefail

# Not GNU `timeout` itself: macOS has none, and there a running Docker Desktop looked absent (exit 3).
with_timeout="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/with-timeout.sh"
docker_answers() { command -v docker >/dev/null 2>&1 && "$with_timeout" 10 docker info >/dev/null 2>&1; }

if docker_answers; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "error: no Docker engine answers." >&2
  echo "hint: start Docker (Docker Desktop, 'sudo systemctl start docker', or set DOCKER_HOST), then run this again." >&2
  exit 3
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "==> installing docker.io (no Docker engine on this machine)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io iptables >/dev/null
fi

# systemd may be absent (containers, CI sandboxes): start dockerd ourselves.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl start docker || true
fi
if ! docker_answers; then
  echo "==> starting dockerd in the background (log: /var/log/drills-dockerd.log)"
  rm -f /var/run/docker.pid
  nohup setsid dockerd >/var/log/drills-dockerd.log 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  if docker_answers; then
    echo "==> Docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
  fi
  sleep 1
done
echo "error: dockerd did not answer within 60 s; last lines of /var/log/drills-dockerd.log:" >&2
tail -n 20 /var/log/drills-dockerd.log >&2 || true
exit 3
