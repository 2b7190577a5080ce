#!/bin/sh
# Runs in temporalio/admin-tools before the Temporal server starts (docker-compose.yml service
# `temporal-schema`): creates Temporal's two PostgreSQL databases and brings both schemas to the
# version shipped with this admin-tools image. Safe to re-run on every `docker compose up`:
# `create` skips an existing database, `setup-schema -v 0.0` keeps a newer version, and
# `update-schema` only applies the versions that are missing.
#
# Connection settings come from the environment temporal-sql-tool reads itself:
# SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu

: "${SQL_HOST:?SQL_HOST is required}"
: "${SQL_USER:?SQL_USER is required}"
: "${TEMPORAL_DB:?TEMPORAL_DB is required}"
: "${VISIBILITY_DB:?VISIBILITY_DB is required}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

attempt=1
until nc -z -w 5 "$SQL_HOST" "${SQL_PORT:-5432}"; do
  [ "$attempt" -ge 30 ] && { echo "PostgreSQL at $SQL_HOST is unreachable" >&2; exit 1; }
  attempt=$((attempt + 1))
  sleep 2
done

migrate() { # migrate <database> <schema directory under $SCHEMA_ROOT>
  echo "== $1: create, setup, update ($2 schema)"
  temporal-sql-tool --db "$1" create --defaultdb postgres
  temporal-sql-tool --db "$1" setup-schema -v 0.0
  temporal-sql-tool --db "$1" update-schema -d "$SCHEMA_ROOT/$2/versioned"
}

migrate "$TEMPORAL_DB" temporal
migrate "$VISIBILITY_DB" visibility
echo "Temporal schemas are up to date"
