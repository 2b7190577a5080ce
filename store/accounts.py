"""Workspace-wide lists: the suppression list, sender accounts and contacts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from domain.failures import FailureCause
from domain.ids import Prefix
from domain.outbound import EventType, OutboundEvent
from domain.statuses import RecipientStatus
from store.db import Page, Store
from store.ids import new_id
from store.sequences import definition_of
from store.tables import ContactRow, RecipientRow, SenderRow, SequenceRow, SuppressionRow
from store.webhooks import enqueue


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- suppression list -------------------------------------------------------------------

    async def suppress(self, workspace: str, email: str, reason: str) -> SuppressionRow:
        """Add an address (idempotent: an address already there keeps its first reason)."""
        email = email.lower()
        try:
            async with self.store.sessions.begin() as session:
                row = SuppressionRow(workspace=workspace, email=email, reason=reason)
                session.add(row)
            return row
        except IntegrityError:
            found = await self.suppression(workspace, email)
            assert found is not None
            return found

    async def suppression(self, workspace: str, email: str) -> SuppressionRow | None:
        async with self.store.sessions() as session:
            return await session.scalar(
                select(SuppressionRow).where(
                    SuppressionRow.workspace == workspace, SuppressionRow.email == email.lower()
                )
            )

    async def unsuppress(self, workspace: str, email: str) -> bool:
        async with self.store.sessions.begin() as session:
            result = await session.execute(
                delete(SuppressionRow).where(
                    SuppressionRow.workspace == workspace, SuppressionRow.email == email.lower()
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def suppressions(
        self, workspace: str, limit: int, after_id: int | None
    ) -> list[SuppressionRow]:
        query = select(SuppressionRow).where(SuppressionRow.workspace == workspace)
        if after_id is not None:
            query = query.where(SuppressionRow.id > after_id)
        async with self.store.sessions() as session:
            return list(await session.scalars(query.order_by(SuppressionRow.id).limit(limit)))

    async def suppressed_among(self, workspace: str, emails: list[str]) -> set[str]:
        async with self.store.sessions() as session:
            found = await session.scalars(
                select(SuppressionRow.email).where(
                    SuppressionRow.workspace == workspace,
                    SuppressionRow.email.in_([e.lower() for e in emails]),
                )
            )
            return set(found)

    async def recipients_with_email(self, workspace: str, email: str) -> list[RecipientRow]:
        async with self.store.sessions() as session:
            return list(
                await session.scalars(
                    select(RecipientRow).where(
                        RecipientRow.workspace == workspace, RecipientRow.email == email.lower()
                    )
                )
            )

    # ---- senders ----------------------------------------------------------------------------

    async def create_sender(
        self, workspace: str, name: str, email: str, daily_cap: int | None
    ) -> SenderRow:
        row = SenderRow(
            id=new_id(Prefix.SENDER),
            workspace=workspace,
            name=name,
            email=email.lower(),
            status="connected",
            daily_cap=daily_cap,
        )
        async with self.store.sessions.begin() as session:
            session.add(row)
        return row

    async def sender(self, workspace: str, sender_id: str) -> SenderRow | None:
        async with self.store.sessions() as session:
            row = await session.get(SenderRow, sender_id)
            return row if row is not None and row.workspace == workspace else None

    async def senders(self, workspace: str) -> list[SenderRow]:
        async with self.store.sessions() as session:
            query = select(SenderRow).where(SenderRow.workspace == workspace)
            return list(await session.scalars(query.order_by(SenderRow.id)))

    async def update_sender(self, sender_id: str, **values: object) -> None:
        """A change of status is told to webhooks (sender.status_changed) in the same
        transaction."""
        async with self.store.sessions.begin() as session:
            before = await session.get(SenderRow, sender_id)
            # Read before the update: the ORM refreshes `before` with the new values.
            workspace, was = (before.workspace, before.status) if before else ("", None)
            await session.execute(
                update(SenderRow).where(SenderRow.id == sender_id).values(**values)
            )
            status = values.get("status")
            if before is not None and status is not None and status != was:
                told = OutboundEvent(
                    id=new_id(Prefix.EVENT),
                    type=EventType.SENDER_STATUS_CHANGED,
                    at=datetime.now(UTC),
                    data={"sender_id": sender_id, "from": was, "to": status},
                )
                await enqueue(session, workspace, [told])

    async def erred_on_sender(self, workspace: str, sender_id: str) -> list[RecipientRow]:
        """Recipients in error because this sender was disconnected when their step was due."""
        async with self.store.sessions() as session:
            sequences = [
                row.id
                for row in await session.scalars(
                    select(SequenceRow).where(SequenceRow.workspace == workspace)
                )
                if definition_of(row).settings.sender_id == sender_id
            ]
            return list(
                await session.scalars(
                    select(RecipientRow).where(
                        RecipientRow.sequence_id.in_(sequences),
                        RecipientRow.status == RecipientStatus.ERROR.value,
                        RecipientRow.error_cause == FailureCause.SENDER_DISCONNECTED.value,
                    )
                )
            )


class Contacts:
    """The workspace's contacts (one per address), for the console's contacts page."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def page(self, workspace: str, limit: int, cursor: str | None) -> Page:
        query = select(ContactRow).where(ContactRow.workspace == workspace)
        return await self.store.keyset(query, ContactRow, None, limit, cursor)
