#!/bin/sh
# Run once by Patroni on the node that initialises the cluster; $1 is a superuser connection URL.
# Creates the application's role and database so the API never connects as a superuser, and the one function
# through which the API waits for the zero-RPO WAL stream (drills/platform/walstream.py): it returns once the
# stream's flush_lsn has passed a position, or false after a timeout. pg_stat_replication's positions are hidden
# from roles without pg_read_all_stats; this gives the API that one answer, nothing more. It waits inside the
# server (1 ms steps, 4 ms after the first 20), so a write costs one round trip, not one per poll; the snapshot
# of the statistics is cleared each step, so a stream that reconnects meanwhile is seen.
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
\c $db
CREATE SCHEMA IF NOT EXISTS backup_stream AUTHORIZATION postgres;
REVOKE ALL ON SCHEMA backup_stream FROM PUBLIC;
GRANT USAGE ON SCHEMA backup_stream TO $user;
CREATE OR REPLACE FUNCTION backup_stream.wait_flushed(app text, target pg_lsn, timeout_ms integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog
    AS '
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => least(greatest(timeout_ms, 0), 10000) / 1000.0);
    steps integer := 0;
BEGIN
    LOOP
        IF (SELECT max(flush_lsn) FROM pg_stat_replication WHERE application_name = app) >= target THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_stat_clear_snapshot();
        PERFORM pg_sleep(CASE WHEN steps < 20 THEN 0.001 ELSE 0.004 END);
        steps := steps + 1;
    END LOOP;
END';
REVOKE ALL ON FUNCTION backup_stream.wait_flushed(text, pg_lsn, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backup_stream.wait_flushed(text, pg_lsn, integer) TO $user;
SQL
