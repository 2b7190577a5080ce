"""Pause / unpause contacts in one sequence (PRODUCT.md §7): only the given contacts that are
enrolled in that sequence change; the others are reported with the reason, not touched."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from api import recipient_calls as calls
from api.deps import CallerDep, ClientDep, StoreDep
from api.problems import Problem, not_found
from domain.statuses import Action
from store.tables import RecipientRow
from workflows.models import ActionRequest, PauseRequest

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])

CONCURRENCY = 16


class ContactsInSequence(BaseModel):
    contact_ids: list[str] = Field(min_length=1, max_length=1_000)
    sequence_id: str
    reason: Annotated[str, Field(max_length=200)] | None = None
    note: Annotated[str, Field(max_length=5_000)] | None = None


class ContactOutcome(BaseModel):
    contact_id: str
    recipient_id: str | None = None
    status: str | None = None
    reason: str | None = None


class ContactsAnswer(BaseModel):
    changed: list[ContactOutcome]
    not_changed: list[ContactOutcome]


async def _apply(
    action: Action, body: ContactsInSequence, caller: CallerDep, client: ClientDep, store: StoreDep
) -> ContactsAnswer:
    if await store.get_sequence(caller.workspace, body.sequence_id) is None:
        raise not_found(f"sequence {body.sequence_id}")
    async with store.sessions() as session:
        rows = {
            row.contact_id: row
            for row in await session.scalars(
                select(RecipientRow).where(
                    RecipientRow.workspace == caller.workspace,
                    RecipientRow.sequence_id == body.sequence_id,
                    RecipientRow.contact_id.in_(body.contact_ids),
                )
            )
        }
    answer = ContactsAnswer(changed=[], not_changed=[])
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(contact_id: str) -> None:
        row = rows.get(contact_id)
        if row is None:
            answer.not_changed.append(
                ContactOutcome(contact_id=contact_id, reason="not enrolled in this sequence")
            )
            return
        handle = calls.handle_for(client, caller.workspace, row.sequence_id, row.id)
        payload = (
            PauseRequest(actor=caller.actor, reason=body.reason, note=body.note)
            if action is Action.PAUSE
            else ActionRequest(actor=caller.actor)
        )
        async with gate:
            try:
                view = await calls.act(handle, action, payload, store, row.id)
            except Problem as problem:
                answer.not_changed.append(
                    ContactOutcome(
                        contact_id=contact_id,
                        recipient_id=row.id,
                        status=row.status,
                        reason=problem.detail,
                    )
                )
                return
        answer.changed.append(
            ContactOutcome(contact_id=contact_id, recipient_id=row.id, status=view.status.value)
        )

    await asyncio.gather(*(one(c) for c in dict.fromkeys(body.contact_ids)))
    order = {c: i for i, c in enumerate(body.contact_ids)}
    answer.changed.sort(key=lambda o: order[o.contact_id])
    answer.not_changed.sort(key=lambda o: order[o.contact_id])
    return answer


@router.post("/pause", response_model=ContactsAnswer)
async def pause(
    body: ContactsInSequence, caller: CallerDep, client: ClientDep, store: StoreDep
) -> ContactsAnswer:
    return await _apply(Action.PAUSE, body, caller, client, store)


@router.post("/unpause", response_model=ContactsAnswer)
async def unpause(
    body: ContactsInSequence, caller: CallerDep, client: ClientDep, store: StoreDep
) -> ContactsAnswer:
    return await _apply(Action.RESUME, body, caller, client, store)
