#!/bin/sh
# Run once by Patroni on the node that initialises the cluster; $1 is a superuser connection URL.
# Creates the application's role and database so the API never connects as a superuser.
# Idempotent: after a restore from backup (custom bootstrap) both exist already.
# The role's password is random per stack, from the container's environment (DRILLS_APP_PASSWORD, set by the
# harness when it starts the container); there is no default. psql reads it itself (\getenv), so it is in
# neither a command line nor the script.
set -eu
: "${DRILLS_APP_PASSWORD:?DRILLS_APP_PASSWORD is not set}"
user=${DRILLS_APP_USER:-ticketing}
db=${DRILLS_APP_DB:-ticketing}
psql -v ON_ERROR_STOP=1 "$1" <<SQL
SELECT 'CREATE ROLE $user LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') \gexec
\getenv app_password DRILLS_APP_PASSWORD
ALTER ROLE $user LOGIN PASSWORD :'app_password';
SELECT 'CREATE DATABASE $db OWNER $user' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
