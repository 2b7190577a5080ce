"""The contract between the API, the worker and the Temporal UI: ids and search attributes.

Recipient workflows are recognisable at a glance in the Web UI: their id is
`{workspace}/{sequence}/{recipient}` and they carry the search attributes below.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

SEQUENCE_PREFIX = "seq"
RECIPIENT_PREFIX = "rcp"

WORKSPACE_KEY = SearchAttributeKey.for_keyword("SeqflowWorkspace")
SEQUENCE_KEY = SearchAttributeKey.for_keyword("SeqflowSequence")
STATUS_KEY = SearchAttributeKey.for_keyword("SeqflowStatus")
STEP_KEY = SearchAttributeKey.for_int("SeqflowStep")

# Registered at dev-server start (`make run`, tests) and by the compose admin-tools job.
SEARCH_ATTRIBUTES = (WORKSPACE_KEY, SEQUENCE_KEY, STATUS_KEY, STEP_KEY)


def sequence_workflow_id(workspace: str, sequence_id: str) -> str:
    return f"{workspace}/{sequence_id}"


def recipient_workflow_id(workspace: str, sequence_id: str, recipient_id: str) -> str:
    return f"{workspace}/{sequence_id}/{recipient_id}"


def search_attribute_cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int"}
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
