"""Sequences: create, read, list, pause/resume (one or in bulk), edit content and sender."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.convert import definition_from_request, sequence_public
from api.deps import CallerDep, ClientDep, SettingsDep, StoreDep
from api.problems import Problem, action_rejected, not_found
from api.schemas import (
    ContentEdit,
    SequenceCreate,
    SequencePage,
    SequencePublic,
    SequenceSettingsEdit,
)
from domain.actions import sequence_allows
from domain.statuses import SequenceStatus
from store.accounts import Accounts
from store.db import sender_of
from store.ids import new_id
from workflows.ids import sequence_workflow_id
from workflows.launch import start_sequence
from workflows.models import (
    ActionRequest,
    ChangeSenderRequest,
    EditStepRequest,
    SequenceInput,
    SequenceView,
    StepContent,
)
from workflows.sequence import SequenceWorkflow

router = APIRouter(prefix="/v1/sequences", tags=["sequences"])
# Declared before `router` in the app so /bulk-eligibility is not taken for a sequence id.
bulk_router = APIRouter(prefix="/v1/sequences", tags=["sequences"])


@router.post("", status_code=201, response_model=SequencePublic)
async def create_sequence(
    body: SequenceCreate,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> SequencePublic:
    if body.sender_id and await Accounts(store).sender(caller.workspace, body.sender_id) is None:
        raise Problem(422, "Invalid request", f"sender_id: no sender {body.sender_id} here")
    definition = definition_from_request(body)
    sequence_id = new_id("seq")
    row = await store.create_sequence(
        caller.workspace, sequence_id, body.name, definition.model_dump(mode="json")
    )
    await start_sequence(
        client,
        settings.task_queue,
        SequenceInput(workspace=caller.workspace, sequence_id=sequence_id, definition=definition),
    )
    response.headers["Location"] = f"/v1/sequences/{sequence_id}"
    return sequence_public(row, {})


@router.get("", response_model=SequencePage)
async def list_sequences(
    caller: CallerDep,
    store: StoreDep,
    status: SequenceStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> SequencePage:
    try:
        rows, next_cursor = await store.list_sequences(
            caller.workspace, status.value if status else None, limit, cursor
        )
    except ValueError as exc:
        raise Problem(422, "Invalid request", f"cursor: {exc}") from None
    items = [sequence_public(row, await store.recipient_counts(row.id)) for row in rows]
    return SequencePage(items=items, next_cursor=next_cursor)


@router.get("/{sequence_id}", response_model=SequencePublic)
async def get_sequence(sequence_id: str, caller: CallerDep, store: StoreDep) -> SequencePublic:
    row = await store.get_sequence(caller.workspace, sequence_id)
    if row is None:
        raise not_found(f"sequence {sequence_id}")
    # Two aggregate reads over up to 100,000 rows each: side by side (WAL readers don't block).
    counts, sends = await asyncio.gather(
        store.recipient_counts(sequence_id), store.sends_per_step(sequence_id)
    )
    public = sequence_public(row, counts)
    public.sends_per_step = sends
    return public


# ---- sequence-level pause and resume (PRODUCT.md §5) ----------------------------------------


class BulkSequenceAction(BaseModel):
    action: Literal["pause", "resume"]
    sequence_ids: list[str] = Field(min_length=1, max_length=200)


class BulkSequenceItem(BaseModel):
    id: str
    status: str | None = None
    reason: str | None = None


class BulkEligibility(BaseModel):
    pause: int
    resume: int
    not_found: list[str]


class BulkSequenceResult(BaseModel):
    action: str
    applied: list[BulkSequenceItem]
    not_eligible: list[BulkSequenceItem]


async def change_sequence(
    action: Literal["pause", "resume"],
    sequence_id: str,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
) -> None:
    """Acknowledged by the sequence workflow, then shown at once by one bulk statement on the
    store's projection; the recipients catch up through the workflow's fan-out."""
    row = await store.get_sequence(caller.workspace, sequence_id)
    if row is None:
        raise not_found(f"sequence {sequence_id}")
    handle = client.get_workflow_handle(sequence_workflow_id(caller.workspace, sequence_id))
    if action == "pause":
        # The barrier first: from here on no delivery of this sequence can be claimed.
        await store.set_sequence_status(sequence_id, "paused")
    try:
        view = await _update_sequence(handle, action, ActionRequest(actor=caller.actor))
    except WorkflowUpdateFailedError as exc:
        # Rejected (say, a concurrent request got there first): the store follows the
        # workflow's truth again, whatever this request's barrier wrote.
        truth = await handle.query(SequenceWorkflow.describe)
        await store.set_sequence_state(sequence_id, truth.status.value, truth.epoch, truth.state_at)
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "ActionRejected":
            details = cause.details[0] if cause.details else {}
            raise action_rejected(cause.message, **details) from None
        raise
    # Unless a later change already answered: its own statement shows the store.
    await store.show_sequence_change(sequence_id, view.status.value, view.epoch, view.state_at)


async def _describe(handle: Any) -> SequenceView:
    try:
        view: SequenceView = await handle.query(SequenceWorkflow.describe)
    except RPCError:
        raise Problem(
            503, "Temporarily unavailable", "the sequence could not be read; retry"
        ) from None
    return view


async def _update_sequence(handle: Any, action: str, request: Any) -> SequenceView:
    """The server aborts an update it had not yet accepted when many race for one workflow
    (20 concurrent pause/resume requests do): such an update was never applied, so ask again."""
    for attempt in range(5):
        try:
            view: SequenceView = await handle.execute_update(
                action, request, result_type=SequenceView
            )
            return view
        except RPCError as exc:
            if exc.status is not RPCStatusCode.UNAVAILABLE or attempt == 4:
                raise Problem(
                    503, "Temporarily unavailable", f"the {action} could not be confirmed; retry"
                ) from None
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


@router.post("/{sequence_id}/pause", response_model=SequencePublic)
async def pause_sequence(
    sequence_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SequencePublic:
    await change_sequence("pause", sequence_id, caller, client, store)
    return await get_sequence(sequence_id, caller, store)


@router.post("/{sequence_id}/resume", response_model=SequencePublic)
async def resume_sequence(
    sequence_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SequencePublic:
    await change_sequence("resume", sequence_id, caller, client, store)
    return await get_sequence(sequence_id, caller, store)


@bulk_router.get("/bulk-eligibility", response_model=BulkEligibility)
async def bulk_eligibility(
    caller: CallerDep, store: StoreDep, ids: Annotated[str, Query(min_length=1)]
) -> BulkEligibility:
    wanted = [i for i in ids.split(",") if i]
    rows = [await store.get_sequence(caller.workspace, sid) for sid in wanted]
    found = [r for r in rows if r is not None]
    return BulkEligibility(
        pause=sum(sequence_allows("pause", SequenceStatus(r.status)) for r in found),
        resume=sum(sequence_allows("resume", SequenceStatus(r.status)) for r in found),
        not_found=[sid for sid, r in zip(wanted, rows, strict=True) if r is None],
    )


@bulk_router.post("/bulk", response_model=BulkSequenceResult)
async def bulk_change(
    body: BulkSequenceAction, caller: CallerDep, client: ClientDep, store: StoreDep
) -> BulkSequenceResult:
    result = BulkSequenceResult(action=body.action, applied=[], not_eligible=[])
    for sequence_id in dict.fromkeys(body.sequence_ids):
        row = await store.get_sequence(caller.workspace, sequence_id)
        if row is None or not sequence_allows(body.action, SequenceStatus(row.status)):
            reason = "not found" if row is None else f"{body.action} not possible when {row.status}"
            result.not_eligible.append(
                BulkSequenceItem(id=sequence_id, status=row.status if row else None, reason=reason)
            )
            continue
        try:
            await change_sequence(body.action, sequence_id, caller, client, store)
        except Problem as problem:
            result.not_eligible.append(BulkSequenceItem(id=sequence_id, reason=problem.detail))
            continue
        result.applied.append(
            BulkSequenceItem(
                id=sequence_id, status="paused" if body.action == "pause" else "active"
            )
        )
    return result


@router.patch("/{sequence_id}/steps/{step}", response_model=SequencePublic)
async def edit_step(
    sequence_id: str,
    step: int,
    body: ContentEdit,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
) -> SequencePublic:
    """Edit sequence content, at any time: it reaches every recipient that has not reached
    the step and has no personal edit of it (through the sequence workflow's fan-out)."""
    if await store.get_sequence(caller.workspace, sequence_id) is None:
        raise not_found(f"sequence {sequence_id}")
    handle = client.get_workflow_handle(sequence_workflow_id(caller.workspace, sequence_id))
    try:
        view = await handle.execute_update(
            SequenceWorkflow.edit_step,
            EditStepRequest(
                actor=caller.actor, step=step, content=StepContent(**body.model_dump())
            ),
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "InvalidRequest":
            raise Problem(422, "Invalid request", cause.message) from None
        raise
    await store.set_sequence_definition(sequence_id, view.definition.model_dump(mode="json"))
    return await get_sequence(sequence_id, caller, store)


@router.patch("/{sequence_id}", response_model=SequencePublic)
async def edit_settings(
    sequence_id: str,
    body: SequenceSettingsEdit,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
) -> SequencePublic:
    """Change the sequence's sender. Its running recipients (In Progress, Pending Action) are
    paused, as of the moment the change was acknowledged, for a person to resume: the next
    message would go out from another mailbox (PRODUCT.md §6)."""
    row = await store.get_sequence(caller.workspace, sequence_id)
    if row is None:
        raise not_found(f"sequence {sequence_id}")
    if body.sender_id and await Accounts(store).sender(caller.workspace, body.sender_id) is None:
        raise Problem(422, "Invalid request", f"sender_id: no sender {body.sender_id} here")
    handle = client.get_workflow_handle(sequence_workflow_id(caller.workspace, sequence_id))
    truth = await _describe(handle)
    if body.sender_id == truth.definition.settings.sender_id:
        # Nothing changes (or an earlier request changed it and lost its answer): the store
        # follows the workflow.
        await store.set_sequence_definition(sequence_id, truth.definition.model_dump(mode="json"))
        return await get_sequence(sequence_id, caller, store)
    before = sender_of(row.definition)
    # The barrier first: from here on no message of this sequence leaves from the old sender.
    await store.set_sequence_sender(sequence_id, body.sender_id)
    try:
        view = await _update_sequence(
            handle,
            "change_sender",
            ChangeSenderRequest(actor=caller.actor, sender_id=body.sender_id),
        )
    except Exception:
        # Not acknowledged: the barrier goes back to the workflow's truth, or to what it was
        # when that cannot be read (a retry of this request compares with the workflow).
        try:
            restored = (await handle.query(SequenceWorkflow.describe)).definition.settings.sender_id
        except RPCError:
            restored = before
        await store.set_sequence_sender(sequence_id, restored)
        raise
    await store.set_sequence_definition(sequence_id, view.definition.model_dump(mode="json"))
    if view.status is SequenceStatus.ACTIVE:
        # (While paused the sequence holds them; its resume is the person's go-ahead.)
        await store.hold_for_sender_change(sequence_id)
    return await get_sequence(sequence_id, caller, store)
