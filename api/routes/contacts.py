"""Pause / unpause contacts in one sequence (docs/inbound-events.md): only the given contacts
that are enrolled in that sequence change; the others are reported with the reason, untouched."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api import recipient_calls as calls
from api.deps import CallerDep, ClientDep, StoreDep
from api.problems import Problem, not_found
from api.schemas import ContactOutcome, ContactsAnswer, ContactsInSequence
from domain.statuses import Action
from store.recipients import Recipients
from store.sequences import Sequences
from workflows.models import ActionRequest, PauseRequest

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])

CONCURRENCY = 16


async def apply(
    action: Action, body: ContactsInSequence, caller: CallerDep, client: ClientDep, store: StoreDep
) -> ContactsAnswer:
    if await Sequences(store).get(caller.workspace, body.sequence_id) is None:
        raise not_found(f"sequence {body.sequence_id}")
    enrolled = await Recipients(store).of_contacts(
        caller.workspace, body.sequence_id, body.contact_ids
    )
    rows = {row.contact_id: row for row in enrolled}
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
    return await apply(Action.PAUSE, body, caller, client, store)


@router.post("/unpause", response_model=ContactsAnswer)
async def unpause(
    body: ContactsInSequence, caller: CallerDep, client: ClientDep, store: StoreDep
) -> ContactsAnswer:
    return await apply(Action.RESUME, body, caller, client, store)
