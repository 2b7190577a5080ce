"""Starting workflows: ids, id-reuse policy and initial search attributes in one place."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from domain.statuses import RecipientStatus
from settings import Settings
from workflows.bulk import RecipientBulkWorkflow
from workflows.contract import (
    SEQUENCE_KEY,
    STATUS_KEY,
    STEP_KEY,
    WORKSPACE_KEY,
    bulk_workflow_id,
    recipient_workflow_id,
    sequence_workflow_id,
    webhook_workflow_id,
)
from workflows.models import (
    BulkHoldOutcome,
    BulkHoldRequest,
    RecipientInput,
    RecipientView,
    SequenceInput,
    SequenceView,
    WebhookEndpointInput,
)
from workflows.recipient import RecipientWorkflow
from workflows.sequence import SequenceWorkflow
from workflows.webhooks import WebhookEndpointWorkflow


def recipient_priority(sequence_id: str) -> Priority:
    """Recipients' tasks are queued fairly by sequence (where the server has fairness on):
    one sequence's 10,000-recipient fan-out does not queue a person's action on another
    sequence behind it (`python -m bench.head_of_line` measures it)."""
    return Priority(fairness_key=sequence_id)


async def start_recipient(
    client: Client, task_queue: str, input: RecipientInput, status: RecipientStatus
) -> WorkflowHandle[RecipientWorkflow, RecipientView]:
    return await client.start_workflow(
        RecipientWorkflow.run,
        input,
        id=recipient_workflow_id(input.workspace, input.sequence_id, input.recipient_id),
        task_queue=task_queue,
        # A recipient id is never reused: a second start is a bug, not a restart.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        priority=recipient_priority(input.sequence_id),
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(WORKSPACE_KEY, input.workspace),
                SearchAttributePair(SEQUENCE_KEY, input.sequence_id),
                SearchAttributePair(STATUS_KEY, status.value),
                SearchAttributePair(STEP_KEY, 0),
            ]
        ),
    )


async def start_sequence(
    client: Client, task_queue: str, input: SequenceInput
) -> WorkflowHandle[SequenceWorkflow, SequenceView]:
    return await client.start_workflow(
        SequenceWorkflow.run,
        input,
        id=sequence_workflow_id(input.workspace, input.sequence_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(WORKSPACE_KEY, input.workspace),
                SearchAttributePair(SEQUENCE_KEY, input.sequence_id),
            ]
        ),
    )


async def start_bulk_hold(
    client: Client, task_queue: str, request: BulkHoldRequest
) -> WorkflowHandle[RecipientBulkWorkflow, BulkHoldOutcome]:
    return await client.start_workflow(
        RecipientBulkWorkflow.run,
        request,
        id=bulk_workflow_id(request.workspace, request.sequence_id, request.bulk_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(WORKSPACE_KEY, request.workspace),
                SearchAttributePair(SEQUENCE_KEY, request.sequence_id),
            ]
        ),
    )


async def start_webhook_endpoint(
    client: Client, task_queue: str, input: WebhookEndpointInput
) -> WorkflowHandle[WebhookEndpointWorkflow, str]:
    """Its deliverer: already running is fine (enabling twice), ended is restarted."""
    return await client.start_workflow(
        WebhookEndpointWorkflow.run,
        input,
        id=webhook_workflow_id(input.workspace, input.endpoint_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(WORKSPACE_KEY, input.workspace)]
        ),
    )


async def start_deliverer(
    client: Client, settings: Settings, workspace: str, endpoint_id: str
) -> WorkflowHandle[WebhookEndpointWorkflow, str]:
    """An endpoint's deliverer with the retry timing the settings say."""
    return await start_webhook_endpoint(
        client,
        settings.task_queue,
        WebhookEndpointInput(
            workspace=workspace,
            endpoint_id=endpoint_id,
            first_retry=settings.webhook_first_retry,
            max_retry=settings.webhook_max_retry,
            give_up_after=settings.webhook_give_up_after,
        ),
    )
