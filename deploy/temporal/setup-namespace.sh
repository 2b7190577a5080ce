#!/bin/sh
# Runs in temporalio/admin-tools once the Temporal server answers (docker-compose.yml service
# `temporal-namespace`); the API and the workers start only after it succeeded. Creates the
# namespace and registers the custom search attributes the recipient workflows upsert.
# Both steps need a running frontend, which is why they are not part of setup-schema.sh.
# Idempotent: existing namespaces and search attributes are left alone.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
: "${NAMESPACE:?NAMESPACE is required}"
RETENTION="${NAMESPACE_RETENTION:-7d}"
MAX_ATTEMPTS="${SETUP_MAX_ATTEMPTS:-60}"

retry() { # retry <what> <command...>: the server may still be starting or refreshing caches
  what=$1
  shift
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
      echo "giving up after $MAX_ATTEMPTS attempts: $what" >&2
      exit 1
    fi
    echo "not ready yet: $what (attempt $attempt/$MAX_ATTEMPTS)"
    attempt=$((attempt + 1))
    sleep 2
  done
}

namespace_exists_or_create() {
  temporal operator namespace describe --namespace "$NAMESPACE" \
    --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
    temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" \
      --address "$TEMPORAL_ADDRESS"
}

search_attribute_exists_or_create() { # <Name> <Type>
  temporal operator search-attribute list --namespace "$NAMESPACE" \
    --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -qw "$1" ||
    temporal operator search-attribute create --namespace "$NAMESPACE" \
      --name "$1" --type "$2" --address "$TEMPORAL_ADDRESS"
}

ensure_search_attribute() { # ensure_search_attribute <Name> <Type>
  retry "search attribute $1 ($2)" search_attribute_exists_or_create "$1" "$2"
}

retry "cluster health at $TEMPORAL_ADDRESS" \
  temporal operator cluster health --address "$TEMPORAL_ADDRESS"
retry "namespace $NAMESPACE" namespace_exists_or_create

# Exactly workflows/ids.py SEARCH_ATTRIBUTES; tests/test_compose.py keeps the two in step.
ensure_search_attribute SeqflowWorkspace Keyword
ensure_search_attribute SeqflowSequence Keyword
ensure_search_attribute SeqflowStatus Keyword
ensure_search_attribute SeqflowStep Int

temporal operator search-attribute list --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS"
echo "Namespace $NAMESPACE is ready"
