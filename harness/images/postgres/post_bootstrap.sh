#!/bin/sh
# Run once by Patroni on the node that initialises the cluster; $1 is a superuser connection URL.
# Creates the application's role and database so the API never connects as a superuser.
set -eu
psql -v ON_ERROR_STOP=1 "$1" <<SQL
CREATE ROLE ${DRILLS_APP_USER:-ticketing} LOGIN PASSWORD '${DRILLS_APP_PASSWORD:-ticketing}';
CREATE DATABASE ${DRILLS_APP_DB:-ticketing} OWNER ${DRILLS_APP_USER:-ticketing};
SQL
