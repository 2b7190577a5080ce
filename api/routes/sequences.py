"""Sequences: create, read, list, pause/resume (one or in bulk), edit content and sender."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api import idempotency
from api import sequence_calls as calls
from api.convert import definition_from_request, sequence_public
from api.deps import CallerDep, ClientDep, RendererDep, SettingsDep, StoreDep
from api.problems import Problem
from api.schemas import (
    MAX_BULK_SEQUENCES,
    BulkEligibility,
    BulkSequenceAction,
    BulkSequenceItem,
    BulkSequenceResult,
    ContentEdit,
    SequenceCreate,
    SequencePage,
    SequencePublic,
    SequenceSettingsEdit,
)
from api.template_checks import refuse_unrenderable, step_fields
from domain.actions import sequence_allows
from domain.models import StepContent
from domain.statuses import Action, SequenceStatus
from store.accounts import Accounts
from store.sequences import Sequences, status_of

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
    renderer: RendererDep,
    idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
) -> Response:
    """All or nothing; with an Idempotency-Key, a retry answers the first answer."""

    async def create() -> tuple[int, SequencePublic, dict[str, str]]:
        if (
            body.sender_id
            and await Accounts(store).sender(caller.workspace, body.sender_id) is None
        ):
            raise Problem(422, "Invalid request", f"sender_id: no sender {body.sender_id} here")
        fields: dict[str, str | None] = {}
        for index, step in enumerate(body.steps):
            fields |= step_fields(f"steps.{index}.", step.model_dump())
        await refuse_unrenderable(renderer, fields, caller.workspace)
        row = await calls.create(client, store, settings, caller, definition_from_request(body))
        return 201, sequence_public(row, {}), {"Location": f"/v1/sequences/{row.id}"}

    return await idempotency.once(store, caller, idempotency_key, "create_sequence", body, create)


@router.get("", response_model=SequencePage)
async def list_sequences(
    caller: CallerDep,
    store: StoreDep,
    status: SequenceStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> SequencePage:
    sequences = Sequences(store)
    try:
        rows, next_cursor = await sequences.page(caller.workspace, status, limit, cursor)
    except ValueError as exc:
        raise Problem(422, "Invalid request", f"cursor: {exc}") from None
    items = [sequence_public(row, await sequences.recipient_counts(row.id)) for row in rows]
    return SequencePage(items=items, next_cursor=next_cursor)


@router.get("/{sequence_id}", response_model=SequencePublic)
async def get_sequence(sequence_id: str, caller: CallerDep, store: StoreDep) -> SequencePublic:
    row = await calls.sequence_row(store, caller, sequence_id)
    sequences = Sequences(store)
    # Two aggregate reads over up to 100,000 rows each: side by side (WAL readers don't block).
    counts, sends = await asyncio.gather(
        sequences.recipient_counts(sequence_id), sequences.sends_per_step(sequence_id)
    )
    public = sequence_public(row, counts)
    public.sends_per_step = sends
    return public


# ---- sequence-level pause and resume (docs/sequence-pause.md) -------------------------------


@router.post("/{sequence_id}/pause", response_model=SequencePublic)
async def pause_sequence(
    sequence_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SequencePublic:
    await calls.change_state(Action.PAUSE, sequence_id, caller, client, store)
    return await get_sequence(sequence_id, caller, store)


@router.post("/{sequence_id}/resume", response_model=SequencePublic)
async def resume_sequence(
    sequence_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SequencePublic:
    await calls.change_state(Action.RESUME, sequence_id, caller, client, store)
    return await get_sequence(sequence_id, caller, store)


@bulk_router.get("/bulk-eligibility", response_model=BulkEligibility)
async def bulk_eligibility(
    caller: CallerDep, store: StoreDep, ids: Annotated[str, Query(min_length=1)]
) -> BulkEligibility:
    wanted = list(dict.fromkeys(i for i in ids.split(",") if i))
    if len(wanted) > MAX_BULK_SEQUENCES:
        raise Problem(
            422, "Invalid request", f"ids: at most {MAX_BULK_SEQUENCES} sequence ids at a time"
        )
    sequences = Sequences(store)
    rows = [await sequences.get(caller.workspace, sid) for sid in wanted]
    found = [r for r in rows if r is not None]
    return BulkEligibility(
        pause=sum(sequence_allows(Action.PAUSE, status_of(r)) for r in found),
        resume=sum(sequence_allows(Action.RESUME, status_of(r)) for r in found),
        not_found=[sid for sid, r in zip(wanted, rows, strict=True) if r is None],
    )


@bulk_router.post("/bulk", response_model=BulkSequenceResult)
async def bulk_change(
    body: BulkSequenceAction, caller: CallerDep, client: ClientDep, store: StoreDep
) -> BulkSequenceResult:
    action = Action(body.action)
    result = BulkSequenceResult(action=body.action, applied=[], not_eligible=[])
    sequences = Sequences(store)
    for sequence_id in dict.fromkeys(body.sequence_ids):
        row = await sequences.get(caller.workspace, sequence_id)
        if row is None or not sequence_allows(action, status_of(row)):
            reason = "not found" if row is None else f"{body.action} not possible when {row.status}"
            result.not_eligible.append(
                BulkSequenceItem(id=sequence_id, status=row.status if row else None, reason=reason)
            )
            continue
        try:
            await calls.change_state(action, sequence_id, caller, client, store)
        except Problem as problem:
            result.not_eligible.append(BulkSequenceItem(id=sequence_id, reason=problem.detail))
            continue
        status = SequenceStatus.PAUSED if action is Action.PAUSE else SequenceStatus.ACTIVE
        result.applied.append(BulkSequenceItem(id=sequence_id, status=status.value))
    return result


@router.patch("/{sequence_id}/steps/{step}", response_model=SequencePublic)
async def edit_step(
    sequence_id: str,
    step: int,
    body: ContentEdit,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    renderer: RendererDep,
) -> SequencePublic:
    """Edit sequence content, at any time: it reaches every recipient that has not reached
    the step and has no personal edit of it."""
    await refuse_unrenderable(renderer, step_fields("", body.model_dump()), caller.workspace)
    content = StepContent(**body.model_dump())
    await calls.edit_step(step, content, sequence_id, caller, client, store)
    return await get_sequence(sequence_id, caller, store)


@router.patch("/{sequence_id}", response_model=SequencePublic)
async def edit_settings(
    sequence_id: str,
    body: SequenceSettingsEdit,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
) -> SequencePublic:
    """Change the sequence's sender. Its running recipients are paused, as of the moment the
    change was acknowledged, for a person to resume (docs/sequence-pause.md)."""
    await calls.sequence_row(store, caller, sequence_id)
    if body.sender_id and await Accounts(store).sender(caller.workspace, body.sender_id) is None:
        raise Problem(422, "Invalid request", f"sender_id: no sender {body.sender_id} here")
    await calls.change_sender(body.sender_id, sequence_id, caller, client, store)
    return await get_sequence(sequence_id, caller, store)
