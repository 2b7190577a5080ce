"""Inbound events (webhooks): replies, bounces, unsubscribes, meetings (docs/inbound-events.md).

Each is idempotent on the provider's event id: a redelivery answers what the first delivery
answered and changes nothing. Events are recorded on the recipient's timeline even while it or
its sequence is paused; what they change is the recipient workflow's decision.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from temporalio.client import Client
from temporalio.service import RPCError

from api import colleague_rule
from api import recipient_calls as calls
from api.deps import CallerDep, ClientDep, StoreDep
from api.problems import Problem
from api.routes.suppressions import suppress_address
from api.schemas import BounceIn, EventAnswer, Matched, MeetingIn, ReplyIn, UnsubscribeIn
from api.temporal_errors import within_deadline
from domain.dsn import parse_dsn
from domain.events import EventKind, kind_of_reply
from domain.ids import recipients_in_thread
from domain.inbound import ReplyKind, classify_reply, return_morning
from domain.statuses import RecipientStatus
from store.db import Store
from store.inbound import InboundEvents
from store.sequences import Sequences, definition_of
from store.tables import RecipientRow
from workflows.models import InboundEvent
from workflows.recipient import RecipientWorkflow

router = APIRouter(prefix="/v1/events", tags=["events"])

SIGNAL_CONCURRENCY = 16


async def _once(store: Store, workspace: str, kind: str, event_id: str, apply: Any) -> EventAnswer:
    events = InboundEvents(store)
    earlier = await events.answer_for(workspace, kind, event_id)
    if earlier is not None:
        return EventAnswer(**{**earlier, "duplicate": True})
    answer: EventAnswer = await apply()
    first = await events.remember(workspace, kind, event_id, answer.model_dump(mode="json"))
    return EventAnswer(**first)


async def _tell(
    client: Client, workspace: str, rows: list[RecipientRow], event: InboundEvent
) -> list[Matched]:
    """Signal each recipient, then read its state once the event is on its timeline."""
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(row: RecipientRow) -> Matched:
        handle = calls.handle_for(client, workspace, row.sequence_id, row.id)
        async with gate:
            try:
                async with within_deadline("the recipient"):
                    await handle.signal(RecipientWorkflow.inbound, event)
            except RPCError:
                # Ended already: recorded by no one, nothing left to change.
                return Matched(sequence_id=row.sequence_id, recipient_id=row.id, status=row.status)
            status = row.status
            for _ in range(30):
                view = await calls.view(handle)
                status = view.status.value
                if any(e.details.get("event_id") == event.event_id for e in view.timeline):
                    break
                await asyncio.sleep(0.1)
        return Matched(sequence_id=row.sequence_id, recipient_id=row.id, status=status)

    return list(await asyncio.gather(*(one(row) for row in rows)))


async def _colleagues(
    client: Client, store: Store, workspace: str, rows: list[RecipientRow], kind: EventKind
) -> list[Matched]:
    told: list[Matched] = []
    for row in rows:
        told += await colleague_rule.apply(client, store, workspace, row, kind)
    return told


@router.post("/replies", response_model=EventAnswer)
async def reply(
    body: ReplyIn, caller: CallerDep, client: ClientDep, store: StoreDep
) -> EventAnswer:
    async def apply() -> EventAnswer:
        rows = await _reply_recipients(store, caller.workspace, body)
        timezone = await _timezone(store, caller.workspace, rows)
        received = body.received_at or datetime.now(UTC)
        found = classify_reply(
            subject=body.subject,
            text=body.text,
            headers=body.headers,
            received_at=received,
            timezone=timezone,
        )
        until = None
        if found.kind is ReplyKind.OUT_OF_OFFICE and found.return_date is not None:
            until = return_morning(found.return_date, timezone)
            until = until if until > datetime.now(UTC) else None
        event = InboundEvent(
            event_id=f"reply:{body.event_id}",
            kind=kind_of_reply(found.kind),
            at=received,
            until=until,
            details={"subject": body.subject[:200], "evidence": found.evidence},
        )
        matched = await _tell(client, caller.workspace, rows, event)
        told = await _colleagues(client, store, caller.workspace, rows, event.kind)
        return EventAnswer(matched=matched, classification=found.kind.value, colleagues=told)

    return await _once(store, caller.workspace, "reply", body.event_id, apply)


async def _reply_recipients(store: Store, workspace: str, body: ReplyIn) -> list[RecipientRow]:
    events = InboundEvents(store)
    threads = " ".join(
        filter(
            None,
            [body.in_reply_to, body.headers.get("In-Reply-To"), body.headers.get("References")],
        )
    )
    # A reply that quotes one of our Message-IDs names its recipient exactly.
    for recipient_id, _step in recipients_in_thread(threads):
        row = await events.recipient(workspace, recipient_id)
        if row is not None:
            return [row]
    return await events.recipients(workspace, str(body.from_), body.sequence_id)


async def _timezone(store: Store, workspace: str, rows: list[RecipientRow]) -> str:
    """The sequence's sending-window time zone, for reading "back on Monday" (UTC if none)."""
    for row in rows:
        sequence = await Sequences(store).get(workspace, row.sequence_id)
        if sequence is not None:
            schedule = definition_of(sequence).settings.schedule
            if schedule is not None:
                return schedule.timezone
    return "UTC"


@router.post("/bounces", response_model=EventAnswer)
async def bounce(
    body: BounceIn, caller: CallerDep, client: ClientDep, store: StoreDep
) -> EventAnswer:
    if body.email is None and body.raw is None:
        raise Problem(422, "Invalid request", "send email (with kind) or raw (a DSN)")

    async def apply() -> EventAnswer:
        bounced = [(str(body.email).lower(), body.kind == "hard")] if body.email else []
        if body.raw:
            bounced = [(b.email, b.hard) for b in parse_dsn(body.raw)] or bounced
        matched: list[Matched] = []
        for email, hard in bounced:
            rows = await InboundEvents(store).recipients(caller.workspace, email)
            event = InboundEvent(
                event_id=f"bounce:{body.event_id}:{email}",
                kind=EventKind.HARD_BOUNCE if hard else EventKind.SOFT_BOUNCE,
            )
            matched += await _tell(client, caller.workspace, rows, event)
        kinds = {"hard" if hard else "soft" for _, hard in bounced}
        return EventAnswer(matched=matched, classification="/".join(sorted(kinds)) or "none")

    return await _once(store, caller.workspace, "bounce", body.event_id, apply)


@router.post("/unsubscribes", response_model=EventAnswer)
async def unsubscribe(
    body: UnsubscribeIn, caller: CallerDep, client: ClientDep, store: StoreDep
) -> EventAnswer:
    async def apply() -> EventAnswer:
        email = str(body.email)
        _, told = await suppress_address(
            client, store, caller.workspace, email, "unsubscribed", f"unsubscribe:{body.event_id}"
        )
        rows = [r for r in await InboundEvents(store).recipients(caller.workspace, email)]
        matched = [
            Matched(
                sequence_id=r.sequence_id,
                recipient_id=r.id,
                status=RecipientStatus.UNSUBSCRIBED.value if r.id in told else r.status,
            )
            for r in rows
        ]
        return EventAnswer(matched=matched, classification="unsubscribe")

    return await _once(store, caller.workspace, "unsubscribe", body.event_id, apply)


@router.post("/meetings", response_model=EventAnswer)
async def meeting(
    body: MeetingIn, caller: CallerDep, client: ClientDep, store: StoreDep
) -> EventAnswer:
    async def apply() -> EventAnswer:
        rows = await InboundEvents(store).recipients(
            caller.workspace, str(body.email), body.sequence_id
        )
        event = InboundEvent(
            event_id=f"meeting:{body.event_id}",
            kind=EventKind.MEETING,
            at=body.at,
            details={"at": body.at.isoformat()} if body.at else {},
        )
        matched = await _tell(client, caller.workspace, rows, event)
        told = await _colleagues(client, store, caller.workspace, rows, event.kind)
        return EventAnswer(matched=matched, classification="meeting", colleagues=told)

    return await _once(store, caller.workspace, "meeting", body.event_id, apply)
