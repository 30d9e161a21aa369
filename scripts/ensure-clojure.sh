#!/usr/bin/env bash
# Make sure Clojure can read EDN for the Jepsen-export test (tests/integration/test_jepsen_export.py reads
# `drill export --format jepsen` the way elle-cli does). On Debian as root it installs the distribution's
# `clojure` and `libdata-json-clojure` packages when missing; elsewhere it changes nothing and that test skips,
# saying why.
set -euo pipefail

if command -v java >/dev/null 2>&1 && [ -f /usr/share/java/clojure.jar ] && [ -f /usr/share/java/data.json.jar ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "note: no Clojure found; the Jepsen-export test will be skipped (install 'clojure libdata-json-clojure')." >&2
  exit 0
fi

echo "==> installing clojure and libdata-json-clojure (Debian packages) for the Jepsen-export test"
. "$(dirname "$0")/lib/debian-install.sh"
debian_install --no-install-recommends clojure libdata-json-clojure
echo "==> $(java -version 2>&1 | head -n1)"
