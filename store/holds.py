"""The pause barrier's store side, and the store's immediate view of a hold.

The promise (docs/time.md): once the API has acknowledged a pause, no message for an affected
recipient is handed to a channel, even one already being dispatched. How it is kept
(docs/architecture.md, "The pause barrier"):

1. the API raises the barrier here *before* asking the workflow: the recipient's `hold`, or
   the sequence row's status `paused` (and, for a sender change, the row's new sender), or
   the sender row's vacations (a vacation holds from its start, even one planned ahead);
2. the ledger's claim (store/ledger.py) asks `barrier_up()` in the transaction that would
   claim the message, and refuses while it is up (NotSentYet.HELD);
3. the workflow, paused, cancels a dispatch under way (a cancelled channel hands nothing over);
4. the barrier comes down only with the truth: a projection that is not `paused`
   (`lifts_hold`), a resume acknowledged by the sequence workflow, or a pause refused.

Every write of a sequence's pause/resume state goes through `PauseBarrier`, and a newer epoch
is never overwritten by an older one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, delete, false, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from domain import vacations
from domain.actions import running_statuses
from domain.models import SequenceDefinition, Vacation
from domain.statuses import HoldSource, RecipientStatus, SequenceStatus
from store.db import Store
from store.sequences import definition_of
from store.tables import PendingPauseRow, RecipientRow, SenderRow, SequenceRow


def barrier_up(recipient_hold: bool, sequence_status: str | None, pending: bool = False) -> bool:
    """What the ledger asks before it lets a message be claimed: the recipient's own hold, a
    bulk pause on its way to it, or its sequence's pause."""
    return recipient_hold or pending or sequence_status == SequenceStatus.PAUSED


def vacations_of(sender: SenderRow) -> list[Vacation]:
    return [Vacation.model_validate(v) for v in sender.vacations or []]


def away(sender: SenderRow, now: datetime) -> Vacation | None:
    """The sender's vacation at `now`, if it is on one: the ledger refuses it (SENDER_AWAY)."""
    return vacations.covering(vacations_of(sender), now)


def lifts_hold(status: RecipientStatus) -> bool:
    """A recipient shown as anything but paused was resumed (by a person, its `until`, or its
    sequence): its barrier comes down."""
    return status is not RecipientStatus.PAUSED


def hold_after(hold: Any, lift: Any) -> ColumnElement[Any]:
    """The `hold` column after a projection whose `lifts_hold` is the bound `lift`."""
    return case((lift, false()), else_=hold)


class PauseBarrier:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- a recipient's own pause -------------------------------------------------------------

    async def raise_for_recipient(self, recipient_id: str) -> None:
        await self._set_hold(recipient_id, True)

    async def lower_for_recipient(self, recipient_id: str) -> None:
        """The pause was not accepted (rejected, or it never reached the workflow)."""
        await self._set_hold(recipient_id, False)

    async def _set_hold(self, recipient_id: str, hold: bool) -> None:
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(RecipientRow).where(RecipientRow.id == recipient_id).values(hold=hold)
            )

    # ---- many recipients at once (a bulk pause or resume) ------------------------------------

    async def raise_for_many(
        self, bulk_id: str, ids: Sequence[str], reason: str | None, until: datetime | None
    ) -> None:
        """A bulk pause, shown at once and held by the ledger until each workflow has taken
        it (`pending_pauses`, which no projection lowers; the fan-out removes each)."""
        async with self.store.sessions.begin() as session:
            for chunk in _chunks(ids):
                await session.execute(
                    delete(PendingPauseRow).where(PendingPauseRow.recipient_id.in_(chunk))
                )
                await session.execute(
                    insert(PendingPauseRow),
                    [{"recipient_id": rid, "bulk_id": bulk_id} for rid in chunk],
                )
                await session.execute(
                    _show(chunk).values(
                        status=RecipientStatus.PAUSED.value,
                        pause_source=HoldSource.RECIPIENT.value,
                        pause_reason=reason,
                        pause_until=until,
                    )
                )

    async def taken(self, bulk_id: str, ids: Sequence[str]) -> None:
        """These recipients answered the bulk pause (took it, or refused it): their own state
        rules from here."""
        async with self.store.sessions.begin() as session:
            for chunk in _chunks(ids):
                await session.execute(
                    delete(PendingPauseRow).where(
                        PendingPauseRow.recipient_id.in_(chunk), PendingPauseRow.bulk_id == bulk_id
                    )
                )

    async def show_resumed_many(self, ids: Sequence[str]) -> None:
        """A bulk resume's immediate view (provisional, as a sequence's resume: each workflow
        projects whether it went back to In Progress, Pending Action or Error)."""
        async with self.store.sessions.begin() as session:
            for chunk in _chunks(ids):
                await session.execute(
                    _show(chunk).values(
                        status=RecipientStatus.IN_PROGRESS.value,
                        pause_source=None,
                        pause_reason=None,
                        pause_until=None,
                    )
                )

    async def restore(self, bulk_id: str, rows: Sequence[RecipientRow]) -> None:
        """A bulk change that could not be handed to its fan-out: rows back as they were."""
        async with self.store.sessions.begin() as session:
            ids = [row.id for row in rows]
            for chunk in _chunks(ids):
                await session.execute(
                    delete(PendingPauseRow).where(
                        PendingPauseRow.recipient_id.in_(chunk), PendingPauseRow.bulk_id == bulk_id
                    )
                )
            for row in rows:
                await session.execute(
                    _show([row.id]).values(
                        status=row.status,
                        pause_source=row.pause_source,
                        pause_reason=row.pause_reason,
                        pause_until=row.pause_until,
                    )
                )

    # ---- a sequence's pause and resume -------------------------------------------------------

    async def raise_for_sequence(self, sequence_id: str) -> None:
        """Before the pause is asked of the sequence workflow: from here on no delivery of
        this sequence can be claimed."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(SequenceRow)
                .where(SequenceRow.id == sequence_id)
                .values(status=SequenceStatus.PAUSED.value)
            )

    async def follow_sequence(
        self, sequence_id: str, status: SequenceStatus, epoch: int, at: datetime | None
    ) -> bool:
        """Record the sequence workflow's state (its fan-out, or the truth after a refused
        change) unless a newer epoch is already recorded."""
        async with self.store.sessions.begin() as session:
            result = await session.execute(_record_state(sequence_id, status, epoch, at))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def show_sequence_change(
        self, sequence_id: str, status: SequenceStatus, epoch: int, at: datetime | None
    ) -> bool:
        """The API's immediate view of an acknowledged pause or resume, in one transaction:
        the sequence's state, then one statement for all its recipients. Nothing is written if
        a newer change is already recorded (its fan-out may be writing its pages already).

        A resume is provisional: the workflows project whether each was In Progress, Pending
        Action or Responded."""
        async with self.store.sessions.begin() as session:
            recorded = await session.execute(_record_state(sequence_id, status, epoch, at))
            if not recorded.rowcount:  # type: ignore[attr-defined]
                return False
            if status is SequenceStatus.PAUSED:
                row = await session.get(SequenceRow, sequence_id)
                if row is None:
                    return False  # deleted meanwhile
                definition = SequenceDefinition.model_validate(row.definition)
                await session.execute(_hold_running(sequence_id, definition, HoldSource.SEQUENCE))
            else:
                row = await session.get(SequenceRow, sequence_id)
                sender_id = definition_of(row).settings.sender_id if row else None
                sender = await session.get(SenderRow, sender_id) if sender_id else None
                # Its sender is away: what the sequence held, the vacation holds on.
                still = away(sender, _now()) is not None if sender else False
                await session.execute(_release_held_by_sequence(sequence_id, still_away=still))
            return True

    # ---- a sender's vacations ----------------------------------------------------------------

    async def plan_vacation(
        self, workspace: str, sender_id: str, vacation: Vacation, now: datetime
    ) -> tuple[SenderRow, list[str]] | None:
        """Record a vacation (merged with those it overlaps): from its start the ledger holds
        every message from the sender. If it starts now, one statement per sequence shows
        their running recipients held. The sender and the sequences that send from it."""
        return await self._change_vacations(
            workspace, sender_id, now, lambda spans: vacations.plan(spans, vacation, now)
        )

    async def end_vacation(
        self, workspace: str, sender_id: str, now: datetime
    ) -> tuple[SenderRow, list[str]] | None:
        """The sender is back now (planned vacations stay planned)."""
        return await self._change_vacations(
            workspace, sender_id, now, lambda spans: vacations.end_now(spans, now), ended=True
        )

    async def _change_vacations(
        self,
        workspace: str,
        sender_id: str,
        now: datetime,
        change: Any,
        ended: bool = False,
    ) -> tuple[SenderRow, list[str]] | None:
        async with self.store.sessions.begin() as session:
            row = await session.get(SenderRow, sender_id, with_for_update=True)
            if row is None or row.workspace != workspace:
                return None
            spans = change(vacations_of(row))
            row.vacations = [v.model_dump(mode="json") for v in spans]
            row.vacations_version += 1
            sequences = await _sending_from(session, workspace, sender_id)
            if ended and vacations.covering(spans, now) is None:
                # Shown running again at once (provisional, as a sequence's resume: each
                # workflow projects where it went back to); a paused sequence holds them on.
                for sequence in sequences:
                    await session.execute(_release_held_by_sender(sequence))
            elif vacations.covering(spans, now) is not None:
                for sequence in sequences:
                    statement = _hold_running(
                        sequence.id, definition_of(sequence), HoldSource.SENDER
                    )
                    await session.execute(statement)
            await session.flush()
            return row, [s.id for s in sequences]

    async def vacations_for(self, sequence_id: str) -> tuple[str, int, list[Vacation]] | None:
        """The vacations of the sender a sequence sends from: (sender, version, spans)."""
        async with self.store.sessions() as session:
            sequence = await session.get(SequenceRow, sequence_id)
            sender_id = definition_of(sequence).settings.sender_id if sequence else None
            sender = await session.get(SenderRow, sender_id) if sender_id else None
            if sender is None:
                return None
            return sender.id, sender.vacations_version, vacations_of(sender)

    # ---- a sender change ---------------------------------------------------------------------

    async def held_by_sequence_pause(self, sequence_id: str) -> int:
        """How many recipients a pause of the sequence holds: shown held by it already, or
        still running (the statement that shows them held may not have landed yet, or a late
        projection from before the pause may show one running for a moment)."""
        async with self.store.sessions() as session:
            row = await session.get(SequenceRow, sequence_id)
            if row is None:
                return 0
            held_or_running = or_(
                and_(
                    RecipientRow.status == RecipientStatus.PAUSED.value,
                    RecipientRow.pause_source == HoldSource.SEQUENCE.value,
                ),
                _running(SequenceDefinition.model_validate(row.definition)),
            )
            query = select(func.count()).where(
                RecipientRow.sequence_id == sequence_id, held_or_running
            )
            return int(await session.scalar(query) or 0)

    async def raise_for_sender(self, sequence_id: str, sender_id: str | None) -> None:
        """From here on the ledger refuses any claim from another sender (SENDER_CHANGED)."""
        async with self.store.sessions.begin() as session:
            row = await session.get(SequenceRow, sequence_id, with_for_update=True)
            if row is not None:
                definition = SequenceDefinition.model_validate(row.definition)
                settings = definition.settings.model_copy(update={"sender_id": sender_id})
                row.definition = definition.model_copy(update={"settings": settings}).model_dump(
                    mode="json"
                )

    async def hold_for_sender_change(self, sequence_id: str) -> int:
        """The API's immediate view of a sender change: its running recipients are paused,
        one by one for a person to resume (one statement)."""
        async with self.store.sessions.begin() as session:
            row = await session.get(SequenceRow, sequence_id)
            if row is None:
                return 0
            definition = SequenceDefinition.model_validate(row.definition)
            result = await session.execute(
                _hold_running(sequence_id, definition, HoldSource.RECIPIENT)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    """Bound the statement's parameters (SQLite's limit, and PostgreSQL's plan size)."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _show(ids: Sequence[str]) -> Any:
    return (
        update(RecipientRow)
        .where(RecipientRow.id.in_(ids))
        .execution_options(synchronize_session=False)  # as in _hold_running
    )


def _record_state(sequence_id: str, status: SequenceStatus, epoch: int, at: datetime | None) -> Any:
    return (
        update(SequenceRow)
        .where(SequenceRow.id == sequence_id, SequenceRow.epoch <= epoch)
        .values(status=status.value, epoch=epoch, state_at=at)
    )


def _running(definition: SequenceDefinition) -> ColumnElement[bool]:
    """RecipientSituation.running, as SQL."""
    always, while_steps_left = running_statuses(definition.settings.stop_on_response)
    running: ColumnElement[bool] = RecipientRow.status.in_([s.value for s in always])
    if while_steps_left:
        running = or_(
            running,
            and_(
                RecipientRow.status.in_([s.value for s in while_steps_left]),
                RecipientRow.current_step < len(definition.steps),
            ),
        )
    return running


def _hold_running(sequence_id: str, definition: SequenceDefinition, source: HoldSource) -> Any:
    """One statement: the sequence's running recipients shown paused, from `source`."""
    return (
        update(RecipientRow)
        .where(RecipientRow.sequence_id == sequence_id, _running(definition))
        .values(status=RecipientStatus.PAUSED.value, pause_source=source.value)
        # No ORM objects live in these short sessions to keep in step; without this
        # SQLAlchemy adds RETURNING id and reads back every row (10,000 ids: +80 ms).
        .execution_options(synchronize_session=False)
    )


def _release_held_by_sender(sequence: SequenceRow) -> Any:
    held = update(RecipientRow).where(
        RecipientRow.sequence_id == sequence.id,
        RecipientRow.status == RecipientStatus.PAUSED.value,
        RecipientRow.pause_source == HoldSource.SENDER.value,
    )
    if sequence.status == SequenceStatus.PAUSED.value:
        shown = held.values(pause_source=HoldSource.SEQUENCE.value)
    else:
        shown = held.values(
            status=RecipientStatus.IN_PROGRESS.value,
            pause_source=None,
            pause_reason=None,
            pause_until=None,
        )
    return shown.execution_options(synchronize_session=False)


def _release_held_by_sequence(sequence_id: str, *, still_away: bool = False) -> Any:
    """One statement: the recipients the sequence's pause held shown running again (or, while
    the sequence's sender is away, shown held by the vacation)."""
    if still_away:
        return (
            update(RecipientRow)
            .where(
                RecipientRow.sequence_id == sequence_id,
                RecipientRow.status == RecipientStatus.PAUSED.value,
                RecipientRow.pause_source == HoldSource.SEQUENCE.value,
            )
            .values(pause_source=HoldSource.SENDER.value)
            .execution_options(synchronize_session=False)
        )
    return (
        update(RecipientRow)
        .where(
            RecipientRow.sequence_id == sequence_id,
            RecipientRow.status == RecipientStatus.PAUSED.value,
            RecipientRow.pause_source == HoldSource.SEQUENCE.value,
        )
        .values(
            status=RecipientStatus.IN_PROGRESS.value,
            pause_source=None,
            pause_reason=None,
            pause_until=None,
        )
        .execution_options(synchronize_session=False)  # as in _hold_running
    )


async def _sending_from(session: Any, workspace: str, sender_id: str) -> list[SequenceRow]:
    """The workspace's sequences that send from the sender (a sender has a handful)."""
    rows = await session.scalars(
        select(SequenceRow).where(
            SequenceRow.workspace == workspace,
            SequenceRow.status != SequenceStatus.ARCHIVED.value,  # its workflow has ended
        )
    )
    return [row for row in rows if definition_of(row).settings.sender_id == sender_id]


def _now() -> datetime:
    return datetime.now(UTC)
