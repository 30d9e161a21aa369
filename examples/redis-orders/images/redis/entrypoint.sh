#!/bin/sh
# Start a Redis node (`redis`) or a Sentinel (`sentinel`) of the example. The configuration is copied to /data
# once: Redis and Sentinel rewrite their copy as roles change, and a container started again keeps it.
#   ANNOUNCE_HOST  the name this node is reached by (its compose service), announced to Sentinel and clients
#   REPLICA_OF     the master a Redis node replicates at its first start (empty: it starts as the master)
set -eu
mode="${1:-redis}"
case "$mode" in
  redis)
    conf=/data/redis.conf
    if [ ! -f "$conf" ]; then
      cp /opt/redis-example/redis.conf "$conf"
      if [ -n "${ANNOUNCE_HOST:-}" ]; then echo "replica-announce-ip ${ANNOUNCE_HOST}" >> "$conf"; fi
      if [ -n "${REPLICA_OF:-}" ]; then echo "replicaof ${REPLICA_OF} 6379" >> "$conf"; fi
    fi
    exec redis-server "$conf"
    ;;
  sentinel)
    conf=/data/sentinel.conf
    if [ ! -f "$conf" ]; then cp /opt/redis-example/sentinel.conf "$conf"; fi
    # The master's name must resolve before Sentinel reads its configuration.
    master=$(awk '$1 == "sentinel" && $2 == "monitor" {print $4}' "$conf")
    for _ in $(seq 1 60); do
      getent hosts "$master" >/dev/null 2>&1 && break
      sleep 0.5
    done
    exec redis-sentinel "$conf"
    ;;
  *)
    echo "usage: entrypoint.sh redis|sentinel" >&2
    exit 64
    ;;
esac
