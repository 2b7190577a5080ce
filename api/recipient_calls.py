"""Calling a recipient workflow from the API, with Temporal failures turned into problems."""

from __future__ import annotations

import contextlib
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem, action_rejected, not_found
from domain.statuses import Action
from store.db import Store
from workflows.ids import recipient_workflow_id
from workflows.models import ContentView, RecipientView
from workflows.recipient import RecipientWorkflow

# Actions that are workflow updates; each update is named after its action.
UPDATES = [
    Action.PAUSE,
    Action.RESUME,
    Action.SKIP,
    Action.STOP,
    Action.RETRY,
    Action.EXCLUDE,
    Action.COMPLETE_TASK,
    Action.SEND_MANUAL_EMAIL,
    Action.EDIT_CONTENT,
]


def handle_for(
    client: Client, workspace: str, sequence_id: str, recipient_id: str
) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(recipient_workflow_id(workspace, sequence_id, recipient_id))


async def view(handle: WorkflowHandle[Any, Any]) -> RecipientView:
    try:
        return await handle.query(RecipientWorkflow.view)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise not_found("recipient") from None
        raise


async def content(handle: WorkflowHandle[Any, Any]) -> list[ContentView]:
    try:
        return await handle.query(RecipientWorkflow.content)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise not_found("recipient") from None
        raise


async def delete(client: Client, namespace: str, handle: WorkflowHandle[Any, Any]) -> None:
    """Delete the execution and its history (terminating it if it still runs)."""
    try:
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id)
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.UNIMPLEMENTED:
            # Only the time-skipping test server lacks deletion; end the workflow at least.
            with contextlib.suppress(RPCError):
                await handle.terminate("recipient deleted")
        elif exc.status is not RPCStatusCode.NOT_FOUND:
            raise


async def act(
    handle: WorkflowHandle[Any, Any],
    action: Action,
    payload: Any,
    store: Store | None = None,
    recipient_id: str | None = None,
) -> RecipientView:
    """Run the action's update; a rejection becomes 409 with status_now and allowed_actions.

    A pause first records the barrier in the store (so no dispatch can claim a delivery from
    now on, whatever is in flight) and lifts it again if the pause is not accepted.
    """
    barrier = action is Action.PAUSE and store is not None and recipient_id is not None
    if barrier:
        assert store is not None and recipient_id is not None
        await store.set_hold(recipient_id, True)
    try:
        return await _update(handle, action, payload)
    except BaseException:
        if barrier:
            assert store is not None and recipient_id is not None
            await store.set_hold(recipient_id, False)
        raise


async def _update(handle: WorkflowHandle[Any, Any], action: Action, payload: Any) -> RecipientView:
    try:
        result: RecipientView = await handle.execute_update(
            action.value, payload, result_type=RecipientView
        )
        return result
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "ActionRejected":
            details = cause.details[0] if cause.details else {}
            raise action_rejected(cause.message, **details) from None
        if isinstance(cause, ApplicationError) and cause.type == "InvalidRequest":
            raise Problem(422, "Invalid request", cause.message) from None
        raise
    except RPCError:
        # The workflow has ended (completed, stopped, …), so updates cannot reach it: answer
        # from its final state (a query still works on a closed workflow), or 404 if gone.
        current = await view(handle)
        if action.value in current.allowed_actions:
            raise
        raise action_rejected(
            f"{action.value} is not possible for a recipient in status {current.status.value}",
            status_now=current.status.value,
            allowed_actions=current.allowed_actions,
        ) from None


def _busy() -> Problem:
    return Problem(
        503, "Temporarily unavailable", "the action could not be confirmed in time; retry it"
    )
