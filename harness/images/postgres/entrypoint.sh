#!/bin/sh
# Start the scheduled-backup loop when DRILLS_BACKUP_INTERVAL is set (> 0), then become Patroni (through
# patroni_run.py: a thread dump on SIGUSR2).
# Given a command (the zero-RPO WAL stream's container: drills-walstream), run that instead.
set -eu
if [ $# -gt 0 ]; then
    exec "$@"
fi
if [ "${DRILLS_BACKUP_INTERVAL:-0}" -gt 0 ] 2>/dev/null; then
    /usr/local/bin/drills-backup-loop &
fi
exec /usr/bin/python3 /usr/local/lib/drills/patroni_run.py /etc/patroni/patroni.yml
