#!/bin/sh
# Scheduled backups: every DRILLS_BACKUP_INTERVAL seconds, the node that is the Patroni leader takes a
# backup of type DRILLS_BACKUP_TYPE (incr, diff or full) into the shared repository. Only once a first
# full backup exists (the harness takes it when the stack starts), so the loop never races the stanza setup.
# Output goes to the container's log, prefixed, so `docker logs` shows every scheduled backup.
interval=${DRILLS_BACKUP_INTERVAL:-0}
type=${DRILLS_BACKUP_TYPE:-incr}
stanza=${DRILLS_STANZA:-drills}
[ "$interval" -gt 0 ] || exit 0
while sleep "$interval"; do
    curl -sf -o /dev/null --max-time 2 http://127.0.0.1:8008/primary || continue
    pgbackrest --stanza="$stanza" --output=json info 2>/dev/null | grep -q '"label"' || continue
    echo "drills-backup-loop: starting $type backup"
    if pgbackrest --stanza="$stanza" --type="$type" --log-level-console=warn backup 2>&1 | sed 's/^/drills-backup-loop: /'; then
        echo "drills-backup-loop: $type backup done"
    fi
done
