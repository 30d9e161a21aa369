#!/bin/sh
# Run once by Patroni on the node that initialises the cluster; $1 is a superuser connection URL.
# Creates the application's role and database so the API never connects as a superuser.
# Idempotent: after a restore from backup (custom bootstrap) both exist already.
set -eu
user=${DRILLS_APP_USER:-ticketing}
db=${DRILLS_APP_DB:-ticketing}
psql -v ON_ERROR_STOP=1 "$1" <<SQL
SELECT 'CREATE ROLE $user LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') \gexec
ALTER ROLE $user LOGIN PASSWORD '${DRILLS_APP_PASSWORD:-ticketing}';
SELECT 'CREATE DATABASE $db OWNER $user' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
