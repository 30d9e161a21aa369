# Sourced by the scripts/ensure-*.sh that install a Debian package for a test (as root on Debian only; each
# script checks that first). One place for how: install from the package lists as they are, and only when that
# fails refresh them and try once more. apt's own chatter goes to stderr or nowhere, so a script whose stdout
# is its answer (ensure-compose.sh prints the command to use) stays clean.
debian_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq >&2
    apt-get install -y -qq "$@" >/dev/null
  fi
}
