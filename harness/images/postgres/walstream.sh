#!/bin/sh
# The zero-RPO WAL stream (stack option zero_rpo_backups; drills/platform/walstream.py says why it is built so).
# pg_receivewal --synchronous writes the leader's WAL into the backup repository and reports a position flushed
# only once it is fsynced there; the API acknowledges a write only after this stream's flush_lsn (in the
# leader's pg_stat_replication, application_name = the slot name) has passed the write's commit.
#
# This loop finds the leader through the members' Patroni REST API (GET /primary answers 200 on the leader
# only), streams from it through the permanent slot Patroni keeps on whichever node leads (bootstrap.dcs.slots),
# and follows a failover: when the source stops being the leader it is dropped and the new one found
# (pg_receivewal continues from its last file and follows the timeline switch). WAL this stream took from an
# old leader beyond the new leader's fork point (commits nobody acknowledged) is set aside in
# $DRILLS_STREAM_DIR.diverged, so the stream goes on along the new timeline.
# Completed segments the WAL archive already holds are pruned; the rest stays until a restore pushes it
# into the archive (drills-walstream-push). While $DRILLS_STREAM_DIR.hold exists nothing streams (the push
# creates it). SIGTERM stops the receiver cleanly (its .partial file kept).
set -u
dir=${DRILLS_STREAM_DIR:-/var/lib/pgbackrest/stream}
slot=${DRILLS_STREAM_SLOT:-drills_walstream}
members=${DRILLS_PATRONI_MEMBERS:?DRILLS_PATRONI_MEMBERS is not set}
archive=${DRILLS_REPO:-/var/lib/pgbackrest}/archive/${DRILLS_STANZA:-drills}
hold=$dir.hold
err=/tmp/drills-walstream.err
child=""

say() { echo "drills-walstream: $*"; }
nap() { sleep "$1" & wait $!; }            # interruptible by the TERM trap, unlike a bare sleep
stop() {
    [ -n "$child" ] && kill -INT "$child" 2>/dev/null && wait "$child"
    say "stopped"
    exit 0
}
trap stop TERM INT

primary() { curl -sf -o /dev/null --max-time 1 "http://$1:8008/primary"; }

leader() {
    for m in $members; do
        if primary "$m"; then echo "$m"; return 0; fi
    done
    return 1
}

# Completed segments, oldest first (the newest complete one is always kept).
segments() { ls "$dir" 2>/dev/null | grep -E '^[0-9A-F]{24}$' | sort; }

prune() {
    segments | sed '$d' | while read -r seg; do
        hold=$(echo "$seg" | cut -c1-16)
        for copy in "$archive"/*/"$hold"/"$seg"-*; do
            if [ -e "$copy" ]; then rm -f "$dir/$seg"; fi
            break
        done
    done
}

# The newest WAL file by segment number, then timeline: what pg_receivewal would continue from.
newest() {
    ls "$dir" 2>/dev/null | grep -E '^[0-9A-F]{24}(\.partial)?$' |
        awk '{ print substr($0, 9, 16) substr($0, 1, 8) " " $0 }' | sort | tail -n 1 | cut -d' ' -f2
}

set_aside() {
    f=$(newest)
    [ -n "$f" ] || return 0
    mkdir -p "$dir.diverged"
    mv "$dir/$f" "$dir.diverged/$f"
    say "set aside $f: it holds WAL beyond the new leader's fork point (never acknowledged)"
}

mkdir -p "$dir"
say "started: members $members, slot $slot, into $dir"
while :; do
    if [ -e "$hold" ]; then nap 0.5; continue; fi
    src=$(leader) || { nap 0.5; continue; }
    say "streaming from $src"
    pg_receivewal -d "host=$src port=5432 user=replicator application_name=$slot connect_timeout=2 keepalives_idle=2 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=5000" \
        --slot="$slot" --synchronous --no-loop --no-password --status-interval=1 -D "$dir" 2>"$err" &
    child=$!
    misses=0
    ticks=0
    while kill -0 "$child" 2>/dev/null; do
        nap 1
        if primary "$src"; then misses=0; else misses=$((misses + 1)); fi
        if [ "$misses" -ge 2 ]; then
            say "$src is no longer the leader: reconnecting"
            kill -INT "$child" 2>/dev/null
        elif [ -e "$hold" ]; then
            say "held (a restore takes the stream's WAL)"
            kill -INT "$child" 2>/dev/null
        fi
        ticks=$((ticks + 1))
        if [ $((ticks % 20)) -eq 0 ]; then prune; fi
    done
    wait "$child"
    code=$?
    child=""
    sed 's/^/drills-walstream: /' "$err"
    say "pg_receivewal from $src exited ($code)"
    if grep -q -e "not in this server's history" -e "ahead of the WAL flush position" "$err"; then
        set_aside
    fi
    nap 0.5
done
