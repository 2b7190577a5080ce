"""Webhooks already applied (by provider event id) and the recipients an event is about."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.db import Store
from store.tables import InboundEventRow, RecipientRow


class InboundEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def answer_for(self, workspace: str, kind: str, event_id: str) -> dict[str, Any] | None:
        async with self.store.sessions() as session:
            row = await session.scalar(
                select(InboundEventRow).where(
                    InboundEventRow.workspace == workspace,
                    InboundEventRow.kind == kind,
                    InboundEventRow.event_id == event_id,
                )
            )
            return row.answer if row else None

    async def remember(
        self, workspace: str, kind: str, event_id: str, answer: dict[str, Any]
    ) -> dict[str, Any]:
        """Keep the first answer; a concurrent redelivery gets that one too."""
        try:
            async with self.store.sessions.begin() as session:
                session.add(
                    InboundEventRow(
                        workspace=workspace, kind=kind, event_id=event_id, answer=answer
                    )
                )
            return answer
        except IntegrityError:
            first = await self.answer_for(workspace, kind, event_id)
            return first if first is not None else answer

    async def recipients(
        self, workspace: str, email: str, sequence_id: str | None = None
    ) -> list[RecipientRow]:
        query = select(RecipientRow).where(
            RecipientRow.workspace == workspace, RecipientRow.email == email.lower()
        )
        if sequence_id:
            query = query.where(RecipientRow.sequence_id == sequence_id)
        async with self.store.sessions() as session:
            return list(await session.scalars(query.order_by(RecipientRow.id)))

    async def recipient(self, workspace: str, recipient_id: str) -> RecipientRow | None:
        async with self.store.sessions() as session:
            row = await session.get(RecipientRow, recipient_id)
            return row if row is not None and row.workspace == workspace else None
