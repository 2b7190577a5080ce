"""The colleague rule (a sequence's `on_colleague_response`, docs/inbound-events.md): when a
recipient replies or books a meeting, its colleagues are paused (reason colleague_responded,
the note naming who) or stopped, in its sequence or in every sequence of the workspace.

It goes through the same action path as a person's (recipient_calls.act), so only a
colleague whose status allows the action is touched; the others are left as they are.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from api import recipient_calls as calls
from api.convert import situation_of
from api.problems import Problem
from api.schemas import Matched
from domain import actions
from domain.colleagues import colleagues, work_domain
from domain.events import EventKind
from domain.models import SYSTEM, ColleagueRule, ColleagueScope
from domain.statuses import Action, SequenceStatus
from store.db import Store
from store.recipients import Recipients
from store.sequences import Sequences, definition_of, status_of
from store.tables import RecipientRow
from workflows.models import ActionRequest, PauseRequest

RESPONSES = {EventKind.REPLY: "replied", EventKind.MEETING: "booked a meeting"}
CONCURRENCY = 8
REASON = "colleague_responded"


async def apply(
    client: Client, store: Store, workspace: str, responder: RecipientRow, kind: EventKind
) -> list[Matched]:
    """The colleagues it touched, with their status after."""
    if kind not in RESPONSES:
        return []  # an out-of-office, an auto-reply or a bounce is not a response
    sequence = await Sequences(store).get(workspace, responder.sequence_id)
    if sequence is None:
        return []
    settings = definition_of(sequence).settings
    if settings.on_colleague_response is ColleagueRule.NONE:
        return []
    recipients = Recipients(store)
    contact = (await recipients.contacts_of([responder])).get(responder.contact_id)
    company = contact.company if contact else None
    within = None if settings.colleague_scope is ColleagueScope.WORKSPACE else sequence.id
    candidates = await recipients.possible_colleagues(
        workspace, within, company, work_domain(responder.email), responder.contact_id
    )
    contacts = await recipients.contacts_of(candidates)
    found = [
        row
        for row in candidates
        if colleagues(
            company,
            responder.email,
            contacts[row.contact_id].company if row.contact_id in contacts else None,
            row.email,
        )
    ]
    action = Action.PAUSE if settings.on_colleague_response is ColleagueRule.PAUSE else Action.STOP
    who = responder.email or responder.id
    note = f"{who} {RESPONSES[kind]} (recipient {responder.id})"
    gate = asyncio.Semaphore(CONCURRENCY)
    sequences = {sequence.id: sequence}  # each colleague's sequence, read once
    for sid in {row.sequence_id for row in found} - sequences.keys():
        if (other := await Sequences(store).get(workspace, sid)) is not None:
            sequences[sid] = other

    async def one(row: RecipientRow) -> Matched | None:
        own = sequences.get(row.sequence_id)
        if own is None:
            return None
        paused = status_of(own) is SequenceStatus.PAUSED
        if action not in actions.allowed_actions(situation_of(row, definition_of(own), paused)):
            return None  # already paused, ended, or held by its sequence: left as it is
        payload = (
            PauseRequest(actor=SYSTEM, reason=REASON, note=note)
            if action is Action.PAUSE
            else ActionRequest(actor=SYSTEM)
        )
        handle = calls.handle_for(client, workspace, row.sequence_id, row.id)
        async with gate:
            try:
                view = await calls.act(handle, action, payload, store, row.id)
            except Problem:
                return None  # it moved on meanwhile
        return Matched(sequence_id=row.sequence_id, recipient_id=row.id, status=view.status.value)

    touched = await asyncio.gather(*(one(row) for row in found))
    return [m for m in touched if m is not None]
