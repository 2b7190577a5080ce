"""Sequences: create, read, list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.convert import definition_from_request, sequence_public
from api.deps import CallerDep, ClientDep, SettingsDep, StoreDep
from api.problems import Problem, not_found
from api.schemas import SequenceCreate, SequencePage, SequencePublic
from domain.statuses import SequenceStatus
from store.accounts import Accounts
from store.ids import new_id
from workflows.launch import start_sequence
from workflows.models import SequenceInput

router = APIRouter(prefix="/v1/sequences", tags=["sequences"])


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
    public = sequence_public(row, await store.recipient_counts(sequence_id))
    public.sends_per_step = await store.sends_per_step(sequence_id)
    return public
