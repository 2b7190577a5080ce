"""Outbound events: what the host application is told, in the words of docs/webhooks.md.

A recipient's events come from its own history: each new timeline entry that a host cares
about becomes an event, and a change of status becomes `recipient.status_changed`. They are
numbered per recipient (`seq`), so a receiver can order them and an event keeps its id
(`evt_<recipient>_<seq>_<kind>`) however often it is written or delivered. The kind is in the
id so that a history Temporal re-executes differently (a worker died between a write and its
workflow task) can only add an event, never have a different one dropped as a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain.models import Announced, PauseInfo, TimelineEntry
from domain.statuses import HoldSource, RecipientStatus


class EventType(StrEnum):
    RECIPIENT_STATUS_CHANGED = "recipient.status_changed"
    RECIPIENT_STEP_SENT = "recipient.step_sent"
    RECIPIENT_STEP_FAILED = "recipient.step_failed"
    RECIPIENT_REPLIED = "recipient.replied"
    RECIPIENT_BOUNCED = "recipient.bounced"
    RECIPIENT_UNSUBSCRIBED = "recipient.unsubscribed"
    RECIPIENT_DELETED = "recipient.deleted"
    SEQUENCE_PAUSED = "sequence.paused"
    SEQUENCE_RESUMED = "sequence.resumed"
    SEQUENCE_CHANGED = "sequence.changed"
    SENDER_STATUS_CHANGED = "sender.status_changed"
    PING = "ping"  # only from POST /v1/webhooks/{id}/test; never subscribed to


SUBSCRIBABLE = [t for t in EventType if t is not EventType.PING]

# Timeline entries a host hears about, beside the status change they may cause.
_FROM_TIMELINE = {
    "step_sent": EventType.RECIPIENT_STEP_SENT,
    "step_failed": EventType.RECIPIENT_STEP_FAILED,
    "inbound_reply": EventType.RECIPIENT_REPLIED,
    "inbound_hard_bounce": EventType.RECIPIENT_BOUNCED,
    "inbound_soft_bounce": EventType.RECIPIENT_BOUNCED,
    "inbound_unsubscribe": EventType.RECIPIENT_UNSUBSCRIBED,
}


class OutboundEvent(BaseModel):
    id: str  # the webhook-id: stable across retries and rewrites
    type: EventType
    at: datetime
    data: dict[str, Any]
    recipient_id: str | None = None
    # A recipient's share of its sequence's pause or resume: only endpoints that opted in to
    # per-recipient sequence events get it (the others get one sequence.paused).
    via_sequence: bool = False

    def body(self) -> str:
        """The delivered body, fixed once: every retry signs and sends the same bytes."""
        document = {"type": self.type.value, "timestamp": self.at.isoformat(), "data": self.data}
        return json.dumps(document, separators=(",", ":"), sort_keys=True)


def recipient_events(
    ids: dict[str, str],
    announced: Announced,
    timeline: Sequence[TimelineEntry],
    status: RecipientStatus,
    pause: PauseInfo | None,
) -> tuple[list[OutboundEvent], Announced]:
    """The events since `announced`, and how far they reach. `ids`: recipient_id,
    sequence_id, contact_id (in every event's data)."""
    events: list[OutboundEvent] = []
    seq = announced.seq
    new = list(timeline[announced.entries :])

    def add(kind: EventType, at: datetime, data: dict[str, Any], via: bool = False) -> None:
        nonlocal seq
        seq += 1
        rid = ids["recipient_id"]
        events.append(
            OutboundEvent(
                id=f"evt_{rid}_{seq}_{kind.value.split('.')[-1]}",
                type=kind,
                at=at,
                data={**ids, "seq": seq, **data},
                recipient_id=rid,
                via_sequence=via,
            )
        )

    for entry in new:
        kind = _FROM_TIMELINE.get(entry.kind)
        if kind is not None:
            data: dict[str, Any] = {"actor": entry.actor, **entry.details}
            if kind is EventType.RECIPIENT_BOUNCED:
                data["kind"] = "hard" if entry.kind == "inbound_hard_bounce" else "soft"
            add(kind, entry.at, data)
    if status != announced.status:
        cause = new[-1] if new else None
        held = pause is not None and status is RecipientStatus.PAUSED
        via = cause is not None and _by_the_sequence(cause)
        add(
            EventType.RECIPIENT_STATUS_CHANGED,
            cause.at if cause else timeline[-1].at,
            {
                "from": announced.status.value,
                "to": status.value,
                "cause": cause.kind if cause else None,
                "actor": cause.actor if cause else None,
                "hold": _hold(pause) if held else None,
            },
            via,
        )
    return events, Announced(entries=len(timeline), status=status, seq=seq, unwritten=[])


def _by_the_sequence(entry: TimelineEntry) -> bool:
    """A hold or release its sequence's pause or resume made (domain.recipient records them)."""
    if entry.kind == "paused":
        return entry.details.get("source") == HoldSource.SEQUENCE.value
    return entry.kind == "resumed" and entry.details.get("reason") == "sequence_resumed"


def _hold(pause: PauseInfo | None) -> dict[str, Any] | None:
    if pause is None:
        return None
    return {
        "source": pause.source.value,
        "reason": pause.reason,
        "note": pause.note,
        "until": pause.until.isoformat() if pause.until else None,
    }
