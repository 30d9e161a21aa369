#!/bin/sh
# Before a restore: hand the zero-RPO stream's WAL to the pgBackRest archive, so recovery replays up to the
# last acknowledged commit (drills/platform/walstream.py runs this in the stream's container once the old
# cluster is gone). First the stream is held ($DRILLS_STREAM_DIR.hold: the supervisor stops pg_receivewal, which
# closes its .partial file) and released at the end. Timeline history files first, then every segment in order;
# the .partial one (pg_receivewal pads it to the full segment size) under its segment's name, which is what
# restore_command asks the archive for. A segment the archive already holds is left as it is (the archiver's copy
# is at least as long). Then the directory is emptied: the restored cluster is a new timeline, streamed afresh.
# The last line is JSON for the harness: pushed, already (archived before), differs (archived with other bytes:
# the archive's copy kept), failed, last (the newest segment pushed).
set -u
dir=${DRILLS_STREAM_DIR:-/var/lib/pgbackrest/stream}
stanza=${DRILLS_STANZA:-drills}
seg_size=16777216
hold=$dir.hold
hold_wait=${DRILLS_HOLD_WAIT_TENTHS:-150}   # tenths of a second the receiver gets to stop
pushed=0; already=0; differs=0; failed=0; last=""

report() {
    printf '{"pushed": %d, "already": %d, "differs": %d, "failed": %d, "last": "%s"}\n' \
        "$pushed" "$already" "$differs" "$failed" "$last"
}

touch "$hold"
trap 'rm -f "$hold"' EXIT
waited=0
while pgrep -x pg_receivewal >/dev/null; do
    if [ "$waited" -ge "$hold_wait" ]; then
        echo "drills-walstream-push: pg_receivewal still runs $((hold_wait / 10)) s after the hold: not pushed" >&2
        failed=1; report; exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
done

if [ ! -d "$dir" ]; then
    echo "drills-walstream-push: no stream directory $dir: nothing to push"
    report
    exit 0
fi

for f in $(ls "$dir" | grep -E '^[0-9A-F]{24}\.partial$'); do
    size=$(stat -c %s "$dir/$f")
    if [ "$size" -ne "$seg_size" ]; then
        echo "drills-walstream-push: $f is $size bytes, not a padded segment of $seg_size: not pushed" >&2
        failed=$((failed + 1))
        continue
    fi
    name=${f%.partial}
    if [ -e "$dir/$name" ]; then
        rm -f "$dir/$f"   # the completed segment is here too: it holds everything the partial did
    else
        mv "$dir/$f" "$dir/$name"
    fi
done

for f in $(ls "$dir" | grep -E '^[0-9A-F]{8}\.history$' | sort) $(ls "$dir" | grep -E '^[0-9A-F]{24}$' | sort); do
    # No PostgreSQL here (--reset-pg1-path): the WAL header names the system and version the archive checks.
    out=$(pgbackrest --stanza="$stanza" --reset-pg1-path --no-archive-mode-check --log-level-console=warn \
        archive-push "$dir/$f" 2>&1)
    code=$?
    if [ "$code" -ne 0 ]; then
        if echo "$out" | grep -q "different checksum"; then
            differs=$((differs + 1))
            echo "drills-walstream-push: $f: the archive holds other bytes under this name; its copy is kept"
            continue
        fi
        failed=$((failed + 1))
        echo "drills-walstream-push: $f: archive-push failed ($code): $out" >&2
        continue
    fi
    if echo "$out" | grep -q "already exists"; then already=$((already + 1)); else pushed=$((pushed + 1)); fi
    case "$f" in *.history) ;; *) last=$f ;; esac
done

if [ "$failed" -eq 0 ]; then
    rm -rf "$dir" "$dir.diverged"
    mkdir -p "$dir"
fi
report
[ "$failed" -eq 0 ]
