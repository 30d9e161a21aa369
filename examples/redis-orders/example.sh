#!/usr/bin/env bash
# The example system (compose project drills-example) and its drills. Run from anywhere:
#   example.sh up       build the images (cached), start the system, wait until it has settled
#   example.sh wait     wait until it has settled: one master, its replica streaming, 3 Sentinels that know each
#                       other, the order service ready
#   example.sh reset    delete every order (drills count orders left by an earlier run as unexpected)
#   example.sh down     remove the project's containers, network and volumes
#   example.sh drills   what `make example` runs: for each drill in scenarios/, a fresh system, `drill run`, and a
#                       check that it ended with the verdict its scenario expects; the system is removed at the end
#                       whatever happened. Exit 0 only when every drill did.
# Environment: DRILL (default <repo>/.venv/bin/drill), DRILLS_EXAMPLE_BASE (base image), DRILLS_EXAMPLE_PORT
# (18080; the scenarios name it), EXAMPLE_DRILLS (scenario files to run instead of all), EXAMPLE_OUT (folder of
# the run directories, default <repo>/reports/example-<UTC stamp>).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PROJECT=drills-example
PORT="${DRILLS_EXAMPLE_PORT:-18080}"
DRILL="${DRILL:-$REPO/.venv/bin/drill}"
COMPOSE_CMD="$("$REPO/scripts/ensure-compose.sh")"
read -r -a COMPOSE <<<"$COMPOSE_CMD"
COMPOSE+=(-p "$PROJECT" -f "$HERE/docker-compose.yml")

say() { echo "==> $*" >&2; }

quietly() {  # run a command; show its output only when it fails
  local out
  if ! out="$("$@" 2>&1)"; then
    echo "$out" | tail -n 40 >&2
    echo "error: failed: $*" >&2
    return 3
  fi
}

base_image() {
  # The images are built FROM the drills base: its own bookworm rootfs, or debian:bookworm-slim where
  # `drill images build` found that one instead (`make images` makes sure one of the two exists).
  if [ -n "${DRILLS_EXAMPLE_BASE:-}" ]; then echo "$DRILLS_EXAMPLE_BASE"; return; fi
  for image in drills/debian-base:bookworm debian:bookworm-slim; do
    if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; return; fi
  done
  echo "error: neither drills/debian-base:bookworm nor debian:bookworm-slim is in the Docker engine" >&2
  echo "hint: run 'make images' (it builds or pulls one of them), then this again" >&2
  exit 3
}

container_of() {  # the running container(s) of a compose service
  docker ps --filter "label=com.docker.compose.project=$PROJECT" \
            --filter "label=com.docker.compose.service=$1" --format '{{.Names}}'
}

settled() {
  local masters=0 replicas=0 sentinels=0 name role
  for service in redis-a redis-b; do
    name="$(container_of "$service")"
    [ -n "$name" ] || return 1
    role="$(docker exec "$name" redis-cli role 2>/dev/null | head -n 1)" || return 1
    if [ "$role" = master ]; then masters=$((masters + 1)); fi
    if [ "$role" = slave ] && docker exec "$name" redis-cli info replication 2>/dev/null \
         | grep -q '^master_link_status:up'; then replicas=$((replicas + 1)); fi
  done
  for name in $(container_of sentinel); do
    local info
    info="$(docker exec "$name" redis-cli -p 26379 sentinel master mymaster 2>/dev/null | paste - - )" || return 1
    if grep -q $'^num-other-sentinels\t2$' <<<"$info" && grep -q $'^num-slaves\t1$' <<<"$info" \
         && grep -q $'^flags\tmaster$' <<<"$info"; then sentinels=$((sentinels + 1)); fi
  done
  [ "$masters" = 1 ] && [ "$replicas" = 1 ] && [ "$sentinels" = 3 ] || return 1
  curl -fsS --max-time 2 "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1
}

cmd_wait() {
  local deadline=$((SECONDS + ${1:-120}))
  until settled; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: the example system did not settle (one master, a streaming replica, 3 Sentinels, /readyz 200)" >&2
      "${COMPOSE[@]}" ps >&2 || true
      "${COMPOSE[@]}" logs --tail 20 >&2 || true
      return 3
    fi
    sleep 1
  done
  say "example system settled: $(for s in redis-a redis-b; do
    printf '%s=%s ' "$s" "$(docker exec "$(container_of "$s")" redis-cli role | head -n 1)"; done)orders on 127.0.0.1:$PORT"
}

cmd_up() {
  export DRILLS_EXAMPLE_BASE DRILLS_EXAMPLE_PORT="$PORT"
  DRILLS_EXAMPLE_BASE="$(base_image)"
  say "building drills-example/* FROM $DRILLS_EXAMPLE_BASE"
  quietly "${COMPOSE[@]}" build
  say "starting compose project $PROJECT"
  quietly "${COMPOSE[@]}" up -d --no-build
  cmd_wait 120
}

cmd_down() {
  say "removing compose project $PROJECT"
  quietly "${COMPOSE[@]}" down -v --remove-orphans || true
}

cmd_reset() {
  local name
  for service in redis-a redis-b; do
    name="$(container_of "$service")"
    if [ -n "$name" ] && [ "$(docker exec "$name" redis-cli role | head -n 1)" = master ]; then
      docker exec "$name" redis-cli del orders:data orders:index >/dev/null
      say "orders deleted on $service"
      return 0
    fi
  done
  echo "error: no master among redis-a and redis-b" >&2
  return 3
}

expected_verdict() {  # the scenario's `expect` (pass unless it says fail)
  if grep -Eq '^expect:[[:space:]]*fail\b' "$1"; then echo fail; else echo pass; fi
}

cmd_drills() {
  [ -x "$DRILL" ] || { echo "error: $DRILL not found; run 'make venv' first" >&2; exit 3; }
  local out="${EXAMPLE_OUT:-$REPO/reports/example-$(date -u +%Y%m%d-%H%M%S)}"
  local scenarios=()
  if [ -n "${EXAMPLE_DRILLS:-}" ]; then read -r -a scenarios <<<"$EXAMPLE_DRILLS"; else scenarios=("$HERE"/scenarios/*.yaml); fi
  trap cmd_down EXIT
  local failed=() rc name expected verdict
  for scenario in "${scenarios[@]}"; do
    name="$(basename "$scenario" .yaml)"
    expected="$(expected_verdict "$scenario")"
    cmd_down
    cmd_up
    say "drill $name (expected verdict: $expected) -> $out/$name"
    mkdir -p "$out"
    set +e
    "$DRILL" run "$scenario" --out "$out/$name" --quiet
    rc=$?
    set -e
    verdict="$("$REPO/.venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("verdict","?"))' \
                "$out/$name/result.json" 2>/dev/null || echo "no result.json")"
    if [ "$rc" = 0 ] && [ "$verdict" = "$expected" ]; then
      say "drill $name: $verdict, as expected"
    else
      say "drill $name: verdict $verdict (exit $rc), expected $expected"
      failed+=("$name")
    fi
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "error: not the expected verdict: ${failed[*]} (run directories in $out)" >&2
    exit 1
  fi
  say "every example drill ended as expected (run directories in $out)"
}

case "${1:-}" in
  up) cmd_up ;;
  wait) cmd_wait "${2:-120}" ;;
  down) cmd_down ;;
  reset) cmd_reset ;;
  drills) cmd_drills ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
esac
