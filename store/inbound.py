"""Webhooks already applied (by provider event id), the recipients an event is about, and the
providers' own signed endpoints."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from domain.ids import Prefix
from store.db import Store, as_utc
from store.ids import new_id
from store.tables import InboundEndpointRow, InboundEventRow, RecipientRow


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


class InboundEndpoints:
    """Providers' own signed endpoints (domain.signatures), one secret each, rotatable."""

    ROTATION_OVERLAP = timedelta(hours=24)

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, workspace: str, description: str | None) -> InboundEndpointRow:
        row = InboundEndpointRow(
            id=new_id(Prefix.INBOUND_ENDPOINT),
            workspace=workspace,
            description=description,
            secret=_new_secret(),
        )
        async with self.store.sessions.begin() as session:
            session.add(row)
        return row

    async def get(
        self, endpoint_id: str, workspace: str | None = None
    ) -> InboundEndpointRow | None:
        async with self.store.sessions() as session:
            row = await session.get(InboundEndpointRow, endpoint_id)
        if row is None or (workspace is not None and row.workspace != workspace):
            return None
        return row

    async def all(self, workspace: str) -> list[InboundEndpointRow]:
        query = select(InboundEndpointRow).where(InboundEndpointRow.workspace == workspace)
        async with self.store.sessions() as session:
            return list(await session.scalars(query.order_by(InboundEndpointRow.id)))

    async def rotate(self, endpoint_id: str) -> InboundEndpointRow | None:
        """A new secret; the old one keeps verifying for ROTATION_OVERLAP."""
        async with self.store.sessions.begin() as session:
            row = await session.get(InboundEndpointRow, endpoint_id, with_for_update=True)
            if row is None:
                return None
            row.previous_secret, row.secret = row.secret, _new_secret()
            row.previous_until = datetime.now(UTC) + self.ROTATION_OVERLAP
        return row

    async def delete(self, endpoint_id: str) -> None:
        async with self.store.sessions.begin() as session:
            await session.execute(
                delete(InboundEndpointRow).where(InboundEndpointRow.id == endpoint_id)
            )


def secrets_of(row: InboundEndpointRow, now: datetime) -> list[str]:
    """The secrets that verify now: the current one, and the previous one during its overlap."""
    previous = row.previous_secret
    until = as_utc(row.previous_until) if row.previous_until else None
    return [row.secret] + ([previous] if previous and until and now < until else [])


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"
