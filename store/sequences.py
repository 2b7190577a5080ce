"""Sequences: their rows, the definition the API shows, and their reporting.

The sequence workflow is the truth; the row follows it (its definition only ever moves to a
newer version, its pause/resume state to a newer epoch — see store/holds.py for the latter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

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
