#!/usr/bin/env bash
# Make sure a Prometheus Pushgateway binary is available for the metrics integration test
# (tests/integration/test_pushgateway.py starts its own on a free loopback port and stops it after; nothing is
# left running and no service is enabled). On Debian as root it installs the distribution's
# `prometheus-pushgateway` package when missing; elsewhere it changes nothing and the test skips, saying why.
set -euo pipefail

if command -v prometheus-pushgateway >/dev/null 2>&1 || command -v pushgateway >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "note: no Pushgateway found; its integration test will be skipped (install 'prometheus-pushgateway')." >&2
  exit 0
fi

echo "==> installing prometheus-pushgateway (Debian package) for the metrics integration test"
. "$(dirname "$0")/lib/debian-install.sh"
debian_install prometheus-pushgateway
# On a host with systemd the package starts its service on :9091; the test starts its own, so stop the one this
# script just caused (only reached right after installing it: a Pushgateway installed before is left alone).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus-pushgateway 2>/dev/null; then
  systemctl stop prometheus-pushgateway >/dev/null 2>&1 || true
fi
command -v prometheus-pushgateway >/dev/null 2>&1 && echo "==> $(prometheus-pushgateway --version 2>&1 | head -n1)"
