"""Calling a recipient workflow from the API: its view, its content, its actions, its deletion.

Routes never talk to a recipient workflow but through here; Temporal's answers become problems
in api/temporal_errors.py. A pause raises the pause barrier before it reaches the workflow
(store/holds.py says why).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateStage,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.rendering import RenderPool
from api.convert import situation_of
from api.deps import Caller
from api.problems import action_rejected
from api.sequence_calls import sequence_row
from api.temporal_errors import (
    UPDATE_DEADLINE,
    is_outage,
    outage,
    rejections_as_problems,
    temporal_problems,
    within_deadline,
)
from domain import actions
from domain.statuses import Action, HoldSource, SequenceStatus
from domain.templates import TemplateProblem
from observability import metrics
from store.db import Store
from store.holds import PauseBarrier
from store.recipients import Recipients
from store.sequences import definition_of, status_of
from store.tables import RecipientRow
from workflows.contract import recipient_workflow_id
from workflows.models import ActionRequest, ContentView, RecipientView
from workflows.recipient import RecipientWorkflow

# The actions that are recipient workflow updates, and which update each one is.
UPDATES: dict[Action, Any] = {
    Action.PAUSE: RecipientWorkflow.pause,
    Action.RESUME: RecipientWorkflow.resume,
    Action.SKIP: RecipientWorkflow.skip,
    Action.STOP: RecipientWorkflow.stop,
    Action.RETRY: RecipientWorkflow.retry,
    Action.EXCLUDE: RecipientWorkflow.exclude,
    Action.COMPLETE_TASK: RecipientWorkflow.complete_task,
    Action.SEND_MANUAL_EMAIL: RecipientWorkflow.send_manual_email,
    Action.EDIT_CONTENT: RecipientWorkflow.edit_content,
}


def handle_for(
    client: Client, workspace: str, sequence_id: str, recipient_id: str
) -> WorkflowHandle[RecipientWorkflow, RecipientView]:
    return client.get_workflow_handle_for(
        RecipientWorkflow.run, recipient_workflow_id(workspace, sequence_id, recipient_id)
    )


async def view(handle: WorkflowHandle[Any, Any]) -> RecipientView:
    async with within_deadline("the recipient"):
        with temporal_problems("recipient"):
            return await handle.query(RecipientWorkflow.view)


async def content(handle: WorkflowHandle[Any, Any]) -> list[ContentView]:
    async with within_deadline("the recipient"):
        with temporal_problems("recipient"):
            return await handle.query(RecipientWorkflow.content)


async def delete(client: Client, namespace: str, handle: WorkflowHandle[Any, Any]) -> None:
    """Delete the execution and its history (terminating it if it still runs)."""
    async with within_deadline("the recipient"):
        try:
            await client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=namespace,
                    workflow_execution=WorkflowExecution(workflow_id=handle.id),
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
    payload: ActionRequest,
    store: Store | None = None,
    recipient_id: str | None = None,
) -> RecipientView:
    """Run the action's update and answer the state after it; a rejection becomes a 409 with
    status_now and allowed_actions.

    A pause first raises the barrier (so no dispatch can claim a delivery from now on,
    whatever is in flight) and lowers it again if the pause is not accepted.
    """
    barrier = (
        PauseBarrier(store)
        if action is Action.PAUSE and store is not None and recipient_id is not None
        else None
    )
    if barrier is not None:
        assert recipient_id is not None
        await barrier.raise_for_recipient(recipient_id)
    try:
        answer = await _update(handle, action, payload)
    except BaseException:
        if barrier is not None:
            assert recipient_id is not None
            await barrier.lower_for_recipient(recipient_id)
        raise
    # Acknowledged by the workflow (every path to a recipient's pause and resume comes here).
    if action is Action.PAUSE:
        metrics.hold_applied(HoldSource.RECIPIENT)
    elif action is Action.RESUME:
        metrics.hold_released(HoldSource.RECIPIENT)
    return answer


async def _update(
    handle: WorkflowHandle[Any, Any], action: Action, payload: ActionRequest
) -> RecipientView:
    try:
        with rejections_as_problems():
            async with within_deadline("the recipient"):
                # Accepted (validated) quickly, or Temporal is not answering.
                accepted = await handle.start_update(
                    UPDATES[action], payload, wait_for_stage=WorkflowUpdateStage.ACCEPTED
                )
            try:
                async with asyncio.timeout(UPDATE_DEADLINE):
                    result: RecipientView = await accepted.result()
                    return result
            except TimeoutError:
                # Accepted and still working (a manual email being handed over): the state now.
                return await view(handle)
    except RPCError as exc:
        if is_outage(exc):
            raise outage("the recipient") from None
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


async def refuse_while_sequence_paused(
    store: Store, caller: Caller, row: RecipientRow, action: Action
) -> None:
    """The sequence-paused overlay holds from the moment the pause is acknowledged, before the
    fan-out has reached this recipient's workflow: a 409 naming what is still allowed."""
    sequence = await sequence_row(store, caller, row.sequence_id)
    if status_of(sequence) is not SequenceStatus.PAUSED:
        return
    try:
        actions.check(action, situation_of(row, definition_of(sequence), sequence_paused=True))
    except actions.ActionRejected as exc:
        raise action_rejected(
            exc.reason, status_now=row.status, allowed_actions=[a.value for a in exc.allowed]
        ) from None


async def content_previews(
    handle: WorkflowHandle[Any, Any], current: RecipientView, renderer: RenderPool, workspace: str
) -> tuple[list[ContentView], list[tuple[dict[str, str], str | None]]]:
    """Each step's content and its preview for this contact: (rendered fields, or why not)."""
    context = current.contact.template_context()
    steps = await content(handle)

    async def preview(step: ContentView) -> tuple[dict[str, str], str | None]:
        templates = step.content.model_dump(exclude_none=True) if step.content else {}
        try:
            return await renderer.render(templates, context, workspace), None
        except TemplateProblem as exc:
            return {}, exc.detail

    return steps, list(await asyncio.gather(*(preview(step) for step in steps)))


async def remove(
    client: Client, namespace: str, store: Store, handle: WorkflowHandle[Any, Any], rid: str
) -> None:
    """Delete: the workflow and its history, then the row and its reporting."""
    await delete(client, namespace, handle)
    await Recipients(store).delete(rid)
