"""The delivery ledger: at most one message per recipient × step × dispatch key.

A dispatch claims its row before handing the message to a channel and marks it after. The
claim is also where the rules that must hold at the moment of sending are checked, in the same
transaction: the suppression list, the pause barrier (recipient hold or sequence paused), the
sequence's current sender (a change refuses the old one) and the sender's state (connected,
under its daily cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formataddr
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, text, update

from store.db import Store, as_utc
from store.holds import away, barrier_up
from store.sequences import definition_of
from store.tables import (
    UNCERTAIN_ONLY,
    DeliveryRow,
    PendingPauseRow,
    RecipientRow,
    SenderRow,
    SequenceRow,
    SuppressionRow,
)

# Longer than a channel's hand-over can take once cancelled (the SMTP and HTTP timeouts, 30 s).
HAND_OVER_GRACE = timedelta(seconds=45)
# The index's own predicate, not a bound parameter: a prepared statement's generic plan
# (PostgreSQL's after five runs) cannot tell that a parameter matches a partial index.
UNCERTAIN_COUNT = select(func.count()).select_from(DeliveryRow).where(text(UNCERTAIN_ONLY))


class Claim(StrEnum):
    CLAIMED = "claimed"  # go ahead and send
    ALREADY_SENT = "already_sent"  # a previous attempt sent it: do not send again
    UNCERTAIN = "uncertain"  # a previous attempt died mid-send: a person must check
    IN_PROGRESS = "in_progress"  # a previous attempt may still be handing it over: look later
    SUPPRESSED = "suppressed"  # the address is on the suppression list
    HELD = "held"  # a pause was recorded: the pause is on its way to the workflow
    SENDER_CHANGED = "sender_changed"  # the sequence sends from another sender now
    SENDER_DISCONNECTED = "sender_disconnected"
    SENDER_CAPPED = "sender_capped"  # the sender's daily cap is reached: try tomorrow
    SENDER_AWAY = "sender_away"  # the sender is on vacation: held until it is back


@dataclass(frozen=True)
class Outbound:
    workspace: str
    sequence_id: str
    recipient_id: str
    step: int
    dispatch_key: str
    channel: str
    to: str
    subject: str | None
    body: str
    message_id: str
    sender_id: str | None
    email: str | None  # the contact's address, checked against the suppression list


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    row_id: int | None = None
    provider_message_id: str | None = None
    from_address: str | None = None  # the sender mailbox it goes out from ("Name <address>")
    retry_after: timedelta | None = None  # IN_PROGRESS: when the earlier attempt must be done
    sender_id: str | None = None  # SENDER_CHANGED: the sequence's sender now
    vacations: list[dict[str, Any]] | None = None  # SENDER_AWAY: the sender's, as JSON


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(self, out: Outbound, now: datetime | None = None) -> ClaimResult:
        now = now or datetime.now(UTC)
        async with self.store.sessions.begin() as session:
            existing = await session.scalar(
                select(DeliveryRow)
                .where(
                    DeliveryRow.recipient_id == out.recipient_id,
                    DeliveryRow.step == out.step,
                    DeliveryRow.dispatch_key == out.dispatch_key,
                )
                .with_for_update()
            )
            if existing is not None and existing.state == "sent":
                return ClaimResult(Claim.ALREADY_SENT, existing.id, existing.provider_message_id)
            # At most one message per step, whatever the dispatch key: a person's retry after
            # an error must not send a step an earlier attempt did send.
            sent_before = await session.scalar(
                select(DeliveryRow).where(
                    DeliveryRow.recipient_id == out.recipient_id,
                    DeliveryRow.step == out.step,
                    DeliveryRow.state == "sent",
                )
            )
            if sent_before is not None:
                return ClaimResult(
                    Claim.ALREADY_SENT, sent_before.id, sent_before.provider_message_id
                )
            if existing is not None and existing.state == "claimed":
                # An attempt that timed out on a busy worker is still running: it will finish
                # its hand-over (sent) or give it back (released) within the grace. Only a
                # claim older than that belongs to an attempt that died.
                claimed_at = as_utc(existing.claimed_at)
                if now - claimed_at < HAND_OVER_GRACE:
                    wait = claimed_at + HAND_OVER_GRACE - now
                    return ClaimResult(Claim.IN_PROGRESS, existing.id, retry_after=wait)
            if existing is not None and existing.state in ("claimed", "uncertain"):
                # A claim nobody finished: the attempt died somewhere around the hand-over.
                existing.state = "uncertain"
                return ClaimResult(Claim.UNCERTAIN, existing.id)
            if out.email and await session.scalar(
                select(SuppressionRow.id).where(
                    SuppressionRow.workspace == out.workspace,
                    SuppressionRow.email == out.email.lower(),
                )
            ):
                return ClaimResult(Claim.SUPPRESSED)
            held = await session.scalar(
                select(RecipientRow.hold).where(RecipientRow.id == out.recipient_id)
            )
            pending = await session.get(PendingPauseRow, out.recipient_id)
            sequence = await session.get(SequenceRow, out.sequence_id)
            if barrier_up(
                bool(held), sequence.status if sequence is not None else None, pending is not None
            ):
                return ClaimResult(Claim.HELD)
            sender_now = (
                definition_of(sequence).settings.sender_id
                if sequence is not None
                else out.sender_id
            )
            if sender_now != out.sender_id:
                # Never from the old sender once the change is recorded, whether or not its
                # fan-out has reached this recipient yet.
                return ClaimResult(Claim.SENDER_CHANGED, sender_id=sender_now)
            from_address = None
            if out.sender_id is not None:
                # Take the sender's row lock first (a write lock on SQLite), so two claims
                # cannot both see the cap as not reached.
                await session.execute(
                    update(SenderRow)
                    .where(SenderRow.id == out.sender_id)
                    .values(daily_cap=SenderRow.daily_cap)
                )
                sender = await session.get(SenderRow, out.sender_id)
                if sender is not None and away(sender, now) is not None:
                    return ClaimResult(Claim.SENDER_AWAY, vacations=list(sender.vacations))
                if sender is None or sender.status != "connected":
                    return ClaimResult(Claim.SENDER_DISCONNECTED)
                from_address = formataddr((sender.name, sender.email))
                if sender.daily_cap is not None:
                    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
                    sent_today = await session.scalar(
                        select(func.count()).where(
                            DeliveryRow.sender_id == out.sender_id,
                            DeliveryRow.state.in_(("claimed", "sent", "uncertain")),
                            DeliveryRow.claimed_at >= day_start,
                        )
                    )
                    if (sent_today or 0) >= sender.daily_cap:
                        return ClaimResult(Claim.SENDER_CAPPED)
            if existing is not None:  # failed or released before: claim it again
                existing.state = "claimed"
                existing.claimed_at = now
                row = existing
            else:
                row = DeliveryRow(
                    workspace=out.workspace,
                    sequence_id=out.sequence_id,
                    recipient_id=out.recipient_id,
                    step=out.step,
                    dispatch_key=out.dispatch_key,
                    channel=out.channel,
                    sender_id=out.sender_id,
                    to=out.to,
                    subject=out.subject,
                    body=out.body,
                    message_id=out.message_id,
                    state="claimed",
                    claimed_at=now,
                )
                session.add(row)
            await session.flush()
            return ClaimResult(Claim.CLAIMED, row.id, from_address=from_address)

    async def finish(self, row_id: int, state: str, provider_message_id: str | None = None) -> None:
        """Move a claimed row to sent, failed or released (cancelled before the hand-over)."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == row_id, DeliveryRow.state == "claimed")
                .values(state=state, provider_message_id=provider_message_id)
            )

    async def uncertain_count(self) -> int:
        """Deliveries that may or may not have gone out, for a person to check (the metric
        `seqflow_ledger_uncertain_messages`). A count over the ledger's state column, asked at
        most every few seconds by the API's /metrics, from an index of just those rows."""
        async with self.store.sessions() as session:
            count = await session.scalar(UNCERTAIN_COUNT)
        return int(count or 0)

    async def rows_for(self, recipient_id: str) -> list[DeliveryRow]:
        async with self.store.sessions() as session:
            return list(
                await session.scalars(
                    select(DeliveryRow)
                    .where(DeliveryRow.recipient_id == recipient_id)
                    .order_by(DeliveryRow.id)
                )
            )


def next_day(now: datetime) -> datetime:
    """When a capped sender may send again (its cap counts per UTC day)."""
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
