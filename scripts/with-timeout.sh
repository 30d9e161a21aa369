#!/usr/bin/env bash
# with-timeout.sh SECONDS COMMAND [ARG...]: run COMMAND and stop it (SIGTERM) after SECONDS; exit 124 when it was
# stopped, else COMMAND's own status. GNU `timeout` where there is one (or `gtimeout`, Homebrew's coreutils), plain
# bash where there is none (macOS out of the box), so no script of ours depends on coreutils.
set -uo pipefail

if [ "$#" -lt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: with-timeout.sh SECONDS COMMAND [ARG...]" >&2
  exit 125
fi
secs=$1
shift

for tool in timeout gtimeout; do
  if command -v "$tool" >/dev/null 2>&1; then
    exec "$tool" "$secs" "$@"
  fi
done

flag=$(mktemp "${TMPDIR:-/tmp}/with-timeout.XXXXXX") || exit 125
"$@" &
child=$!
# The watcher looks once a second, so it ends by itself soon after COMMAND does (and holds no pipe open).
(
  for ((i = 0; i < secs; i++)); do
    sleep 1
    kill -0 "$child" 2>/dev/null || exit 0
  done
  echo stopped >"$flag"
  kill -TERM "$child" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
watcher=$!
trap 'kill -TERM "$child" "$watcher" 2>/dev/null; rm -f "$flag"; exit 130' INT TERM
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
if [ -s "$flag" ]; then
  status=124
fi
rm -f "$flag"
exit "$status"
