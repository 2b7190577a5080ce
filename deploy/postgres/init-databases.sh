#!/bin/sh
# PostgreSQL first-start hook (/docker-entrypoint-initdb.d; runs only on an empty data volume).
# The superuser (POSTGRES_USER) is Temporal's: the temporal-schema job creates the `temporal`
# and `temporal_visibility` databases with it. Here the app store gets its own database, owned
# by a role without superuser rights, which SEQFLOW_DATABASE_URL connects as.
# No `set -u`: the postgres entrypoint sources this file when it is not executable.
set -e

: "${STORE_DB_PASSWORD:?STORE_DB_PASSWORD is required}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set app_password="$STORE_DB_PASSWORD" <<'SQL'
CREATE ROLE seqflow LOGIN PASSWORD :'app_password';
CREATE DATABASE seqflow OWNER seqflow;
SQL
