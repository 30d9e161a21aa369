#!/usr/bin/env bash
# Make sure headless Chromium is available for the report's browser test (tests/integration/test_report_browser.py).
# On Debian as root it installs the distribution's `chromium` package when missing (no browser download from
# anywhere else); elsewhere it changes nothing and the browser test skips, saying why.
set -euo pipefail

for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then
    exit 0
  fi
done

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "note: no Chromium found; the report's browser test will be skipped (install 'chromium' to run it)." >&2
  exit 0
fi

echo "==> installing chromium (Debian package) for the report's browser test"
. "$(dirname "$0")/lib/debian-install.sh"
debian_install chromium
command -v chromium >/dev/null 2>&1 && echo "==> $(chromium --version 2>/dev/null | head -n1)"
