#!/bin/sh
# Patroni custom bootstrap: restore the data directory from the pgBackRest repository.
# DRILLS_RESTORE_SETS lists the backup sets to try, best first (the harness chose them: the newest, or the
# newest that ended before a point-in-time target). A set that cannot be restored (files lost, manifest
# unreadable) is skipped for the next one, as an operator would. Recovery targets are written by Patroni
# (bootstrap.<method>.recovery_conf), so pgBackRest writes none (--type=none... see below).
# The set actually used is written to $DATADIR/../drills-restore.json for the harness.
set -u
datadir=""
for arg in "$@"; do
    case "$arg" in --datadir=*) datadir=${arg#--datadir=} ;; esac
done
[ -n "$datadir" ] || { echo "drills-restore: no --datadir" >&2; exit 2; }
stanza=${DRILLS_STANZA:-drills}
report="$(dirname "$datadir")/drills-restore.json"
tried=""
for set in ${DRILLS_RESTORE_SETS:-}; do
    rm -rf "$datadir"
    mkdir -p "$datadir" && chmod 700 "$datadir"
    echo "drills-restore: restoring backup set $set into $datadir"
    # --type=preserve keeps recovery settings out of pgBackRest's hands: Patroni writes them.
    if out=$(pgbackrest --stanza="$stanza" --pg1-path="$datadir" --set="$set" --type=preserve \
             --log-level-console=warn restore 2>&1); then
        printf '{"set": "%s", "skipped": [%s]}\n' "$set" "$tried" > "$report"
        echo "drills-restore: restored $set"
        exit 0
    fi
    echo "drills-restore: set $set failed: $out" >&2
    msg=$(printf '%s' "$out" | tr '\n"\\' '   ' | cut -c1-300)
    tried="$tried${tried:+, }{\"set\": \"$set\", \"error\": \"$msg\"}"
done
printf '{"set": null, "skipped": [%s]}\n' "$tried" > "$report"
echo "drills-restore: no backup set could be restored (tried: ${DRILLS_RESTORE_SETS:-none})" >&2
exit 1
