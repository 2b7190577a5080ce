"""Sequences: their rows, the definition the API shows, and their reporting.

The sequence workflow is the truth; the row follows it (its definition only ever moves to a
newer version, its pause/resume state to a newer epoch — see store/holds.py for the latter).
The row also shows how far the newest pause/resume has reached its recipients (`FanOut`),
written by the fan-out activity once per page, and never by an older epoch's over a newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update

from domain.models import SequenceDefinition
from domain.statuses import SequenceStatus
from store.db import Store, as_utc
from store.tables import DeliveryRow, RecipientRow, SequenceRow


@dataclass(frozen=True)
class SequenceState:
    """The newest acknowledged pause/resume the store knows of (epoch 0: never changed)."""

    status: SequenceStatus
    epoch: int
    at: datetime | None


@dataclass(frozen=True)
class FanOut:
    """How far a pause/resume (`epoch`) has reached the sequence's recipients: `reached` of
    `total`, the recipients it has to reach (those of the sequence when it began; one enrolled
    meanwhile and reached too counts in both). Done: reached == total."""

    epoch: int
    reached: int
    total: int


def fan_out_of(row: SequenceRow, recipients_now: int) -> FanOut | None:
    """The fan-out of the sequence's newest pause/resume (None: it has never had one). One
    acknowledged but not begun yet has reached none of the recipients it has now."""
    if row.epoch == 0:
        return None
    if row.fan_out_epoch < row.epoch:
        return FanOut(row.epoch, 0, recipients_now)
    return FanOut(row.fan_out_epoch, row.fan_out_reached, row.fan_out_total)


def definition_of(row: SequenceRow) -> SequenceDefinition:
    return SequenceDefinition.model_validate(row.definition)


def status_of(row: SequenceRow) -> SequenceStatus:
    return SequenceStatus(row.status)


class Sequences:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(
        self, workspace: str, sequence_id: str, definition: SequenceDefinition
    ) -> SequenceRow:
        row = SequenceRow(
            id=sequence_id,
            workspace=workspace,
            name=definition.name,
            status=SequenceStatus.ACTIVE.value,
            definition=definition.model_dump(mode="json"),
        )
        async with self.store.sessions.begin() as session:
            session.add(row)
        return row

    async def get(self, workspace: str, sequence_id: str) -> SequenceRow | None:
        async with self.store.sessions() as session:
            row = await session.get(SequenceRow, sequence_id)
            return row if row is not None and row.workspace == workspace else None

    async def page(
        self, workspace: str, status: SequenceStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[SequenceRow], str | None]:
        query = select(SequenceRow).where(SequenceRow.workspace == workspace)
        page = await self.store.keyset(
            query, SequenceRow, status.value if status else None, limit, cursor
        )
        return page.items, page.next_cursor

    async def state(self, sequence_id: str) -> SequenceState | None:
        async with self.store.sessions() as session:
            row = await session.get(SequenceRow, sequence_id)
        if row is None:
            return None
        at = as_utc(row.state_at) if row.state_at else None
        return SequenceState(status_of(row), row.epoch, at)

    async def follow_definition(self, sequence_id: str, definition: SequenceDefinition) -> None:
        """Record the sequence workflow's definition, unless a newer version is recorded."""
        async with self.store.sessions.begin() as session:
            row = await session.get(SequenceRow, sequence_id, with_for_update=True)
            if row is not None and definition.version >= definition_of(row).version:
                row.definition = definition.model_dump(mode="json")

    async def recipient_counts(self, sequence_id: str) -> dict[str, int]:
        query = (
            select(RecipientRow.status, func.count())
            .where(RecipientRow.sequence_id == sequence_id)
            .group_by(RecipientRow.status)
        )
        async with self.store.sessions() as session:
            return {status: count for status, count in (await session.execute(query)).all()}

    async def sends_per_step(self, sequence_id: str) -> dict[int, int]:
        query = (
            select(DeliveryRow.step, func.count())
            .where(DeliveryRow.sequence_id == sequence_id, DeliveryRow.state == "sent")
            .group_by(DeliveryRow.step)
        )
        async with self.store.sessions() as session:
            return {step: count for step, count in (await session.execute(query)).all()}

    # ---- the fan-out of a pause/resume (activities/fanout.py) --------------------------------

    async def fan_out_begun(self, sequence_id: str, epoch: int) -> None:
        """The fan-out of `epoch` begins: it has to reach the recipients the sequence has now.
        A retried attempt of the same epoch keeps the progress recorded; an older epoch's
        writes nothing over a newer one's."""
        recipients = (
            select(func.count())
            .select_from(RecipientRow)
            .where(RecipientRow.sequence_id == sequence_id)
            .scalar_subquery()
        )
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(SequenceRow)
                .where(SequenceRow.id == sequence_id, SequenceRow.fan_out_epoch < epoch)
                .values(fan_out_epoch=epoch, fan_out_reached=0, fan_out_total=recipients)
                .execution_options(synchronize_session=False)
            )

    async def fan_out_reached(
        self, sequence_id: str, epoch: int, reached: int, *, done: bool = False
    ) -> None:
        """A page done: `reached` so far (never fewer than recorded). `done`: it has reached
        every recipient there is, so `total` becomes `reached` (fewer, if some were deleted
        meanwhile)."""
        row = SequenceRow
        where = [row.id == sequence_id, row.fan_out_epoch == epoch]
        total: Any = reached
        if not done:
            where.append(row.fan_out_reached < reached)
            total = case((row.fan_out_total < reached, reached), else_=row.fan_out_total)
        statement = (
            update(row)
            .where(*where)
            .values(fan_out_reached=reached, fan_out_total=total)
            .execution_options(synchronize_session=False)
        )
        async with self.store.sessions.begin() as session:
            await session.execute(statement)
