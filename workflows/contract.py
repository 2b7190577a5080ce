"""The contract between the API, the worker and the Temporal UI, in one place: the task
queue, workflow ids, search attributes and the activity names.

Recipient workflows are recognisable at a glance in the Web UI: their id is
`{workspace}/{sequence}/{recipient}` and they carry the search attributes below.

Updates, signals and queries are named after their methods (RecipientWorkflow.pause is
"pause") and every caller uses the method, never a string. Activities are called through
their methods too; the names below are the ones in running histories: never change one.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

DEFAULT_TASK_QUEUE = "seqflow"  # settings.task_queue; tests use one of their own each

# ApplicationError types an update's validator raises; the API turns them into 409 and 422.
ACTION_REJECTED = "ActionRejected"
INVALID_REQUEST = "InvalidRequest"

# Activity type names (in every recorded history).
DISPATCH_STEP = "dispatch_step"
PROJECT_RECIPIENT = "project_recipient"
READ_SEQUENCE_STATE = "read_sequence_state"
READ_STARTING_HOLDS = "read_starting_holds"
FAN_OUT_SEQUENCE_STATE = "fan_out_sequence_state"
APPLY_BULK_HOLD = "apply_bulk_hold"
WEBHOOK_PENDING = "webhook_pending"
WEBHOOK_DELIVER = "webhook_deliver"
WEBHOOK_DELIVER_BATCH = "webhook_deliver_batch"
WEBHOOK_GIVE_UP = "webhook_give_up"
# A webhook delivery whose endpoint was deleted or disabled: not retried.
ENDPOINT_GONE = "EndpointGone"

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


def bulk_workflow_id(workspace: str, sequence_id: str, bulk_id: str) -> str:
    return f"{workspace}/{sequence_id}/bulk/{bulk_id}"


def webhook_workflow_id(workspace: str, endpoint_id: str) -> str:
    return f"{workspace}/webhooks/{endpoint_id}"


def search_attribute_cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int"}
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
