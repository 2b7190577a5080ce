"""Store: async database access for the API and the workflows' projection activity."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Table,
    bindparam,
    case,
    delete,
    event,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from domain.actions import HELD_BY_SEQUENCE_PAUSE
from store.ids import new_id
from store.tables import ContactRow, DeliveryRow, RecipientRow, SequenceRow


@dataclass(frozen=True)
class Projected:
    """One workflow's state for the recipients list (see project_many)."""

    recipient_id: str
    version: int
    status: str
    current_step: int
    next_step_at: datetime | None
    pause_source: str | None
    error_cause: str | None


@dataclass(frozen=True)
class NewContact:
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    fields: dict[str, Any] | None = None


@dataclass(frozen=True)
class Enrolled:
    recipient_id: str
    contact_id: str
    contact: NewContact
    status: str


@dataclass(frozen=True)
class Rejected:
    email: str | None
    reason: str


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers (the API's lists) run while a dispatch writes; NORMAL sync is safe
    with WAL and much faster; the busy timeout makes writers queue instead of failing."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if "_" not in value:
        raise ValueError("cursor is not one this API returned; pass next_cursor as given")
    return value


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str) -> Store:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            # SQLite: one writer; wait for it rather than fail with "database is locked".
            kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # ---- sequences ---------------------------------------------------------------------------

    async def create_sequence(
        self, workspace: str, sequence_id: str, name: str, definition: dict[str, Any]
    ) -> SequenceRow:
        row = SequenceRow(
            id=sequence_id, workspace=workspace, name=name, status="active", definition=definition
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return row

    async def get_sequence(self, workspace: str, sequence_id: str) -> SequenceRow | None:
        async with self.sessions() as session:
            row = await session.get(SequenceRow, sequence_id)
            return row if row is not None and row.workspace == workspace else None

    async def list_sequences(
        self, workspace: str, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[SequenceRow], str | None]:
        query = select(SequenceRow).where(SequenceRow.workspace == workspace)
        page = await self._keyset(query, SequenceRow, status, limit, cursor)
        return page.items, page.next_cursor  # type: ignore[return-value]

    async def _keyset(
        self, query: Any, table: Any, status: str | None, limit: int, cursor: str | None
    ) -> Page:
        """One page in id order (ids sort by creation), filtered by status; `cursor` is the
        opaque next_cursor of the previous page."""
        if status:
            query = query.where(table.status == status)
        if cursor:
            query = query.where(table.id > decode_cursor(cursor))
        async with self.sessions() as session:
            rows = list(await session.scalars(query.order_by(table.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1].id) if more and rows else None)

    async def set_sequence_state(
        self, sequence_id: str, status: str, epoch: int, at: datetime | None
    ) -> bool:
        """Record the sequence workflow's state unless a newer epoch is already recorded."""
        async with self.sessions.begin() as session:
            result = await session.execute(_record_sequence_state(sequence_id, status, epoch, at))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def sequence_state(self, sequence_id: str) -> tuple[str, int, datetime | None] | None:
        async with self.sessions() as session:
            row = await session.get(SequenceRow, sequence_id)
            return (row.status, row.epoch, row.state_at) if row else None

    async def show_sequence_change(
        self, sequence_id: str, status: str, epoch: int, at: datetime | None
    ) -> bool:
        """The API's immediate view of an acknowledged pause or resume, in one transaction:
        the sequence's state, then one statement for all its recipients. Nothing is written if
        a newer change is already recorded (its fan-out may be writing its pages already).

        A resume is provisional: the workflows project whether each was In Progress or
        Pending Action."""
        async with self.sessions.begin() as session:
            recorded = await session.execute(_record_sequence_state(sequence_id, status, epoch, at))
            if not recorded.rowcount:  # type: ignore[attr-defined]
                return False
            paused = status == "paused"
            await session.execute(
                _hold_running(sequence_id, "sequence") if paused else _release_held(sequence_id)
            )
            return True

    async def recipient_ids_page(
        self, sequence_id: str, after_id: str, limit: int, *, descending: bool = False
    ) -> list[tuple[str, str]]:
        """(id, workspace) of a sequence's recipients in id order (or reversed: then "after"
        means below, and "" starts from the top), for the fan-out."""
        query = select(RecipientRow.id, RecipientRow.workspace).where(
            RecipientRow.sequence_id == sequence_id
        )
        if descending:
            if after_id:
                query = query.where(RecipientRow.id < after_id)
            query = query.order_by(RecipientRow.id.desc())
        else:
            query = query.where(RecipientRow.id > after_id).order_by(RecipientRow.id)
        query = query.limit(limit)
        async with self.sessions() as session:
            return [(rid, ws) for rid, ws in (await session.execute(query)).all()]

    async def set_sequence_definition(self, sequence_id: str, definition: dict[str, Any]) -> None:
        """Record the sequence workflow's definition, unless a newer version is recorded."""
        async with self.sessions.begin() as session:
            row = await session.get(SequenceRow, sequence_id, with_for_update=True)
            if row is not None and definition["version"] >= row.definition.get("version", 1):
                row.definition = definition

    async def set_sequence_sender(self, sequence_id: str, sender_id: str | None) -> None:
        """The sender barrier: from here on the ledger holds any claim from another sender."""
        async with self.sessions.begin() as session:
            row = await session.get(SequenceRow, sequence_id, with_for_update=True)
            if row is not None:
                settings = {**(row.definition.get("settings") or {}), "sender_id": sender_id}
                row.definition = {**row.definition, "settings": settings}

    async def hold_for_sender_change(self, sequence_id: str) -> int:
        """The API's immediate view of a sender change: its running recipients are paused,
        one by one for a person to resume (one statement)."""
        async with self.sessions.begin() as session:
            result = await session.execute(_hold_running(sequence_id, "recipient"))
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def set_sequence_status(self, sequence_id: str, status: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(SequenceRow).where(SequenceRow.id == sequence_id).values(status=status)
            )

    async def recipient_counts(self, sequence_id: str) -> dict[str, int]:
        query = (
            select(RecipientRow.status, func.count())
            .where(RecipientRow.sequence_id == sequence_id)
            .group_by(RecipientRow.status)
        )
        async with self.sessions() as session:
            return {status: count for status, count in (await session.execute(query)).all()}

    # ---- enrollment --------------------------------------------------------------------------

    async def enroll(
        self, workspace: str, sequence_id: str, contacts: Sequence[NewContact], status: str
    ) -> tuple[list[Enrolled], list[Rejected]]:
        """Create contacts (found again by email) and their recipient rows in one transaction.

        A contact already in the sequence (or twice in the request) is rejected, not duplicated.
        """
        enrolled: list[Enrolled] = []
        rejected: list[Rejected] = []
        emails = [c.email.lower() for c in contacts if c.email]
        async with self.sessions.begin() as session:
            known = {
                row.email: row
                for row in await session.scalars(
                    select(ContactRow).where(
                        ContactRow.workspace == workspace, ContactRow.email.in_(emails)
                    )
                )
            }
            in_sequence = set(
                await session.scalars(
                    select(RecipientRow.contact_id).where(
                        RecipientRow.sequence_id == sequence_id,
                        RecipientRow.contact_id.in_([row.id for row in known.values()]),
                    )
                )
            )
            seen: set[str] = set()
            for contact in contacts:
                email = contact.email.lower() if contact.email else None
                if email and (email in seen or (email in known and known[email].id in in_sequence)):
                    rejected.append(Rejected(contact.email, "already enrolled in this sequence"))
                    continue
                if email:
                    seen.add(email)
                row = known.get(email) if email else None
                if row is None:
                    row = ContactRow(
                        id=new_id("con"),
                        workspace=workspace,
                        email=email,
                        first_name=contact.first_name,
                        last_name=contact.last_name,
                        phone=contact.phone,
                        linkedin_url=contact.linkedin_url,
                        fields=contact.fields or {},
                    )
                    session.add(row)
                recipient_id = new_id("rcp")
                session.add(
                    RecipientRow(
                        id=recipient_id,
                        workspace=workspace,
                        sequence_id=sequence_id,
                        contact_id=row.id,
                        email=email,
                        status=status,
                    )
                )
                enrolled.append(Enrolled(recipient_id, row.id, contact, status))
        return enrolled, rejected

    async def forget_enrollment(self, recipient_ids: Sequence[str]) -> None:
        """Undo rows whose workflow could not be started, so nothing half-exists."""
        async with self.sessions.begin() as session:
            await session.execute(delete(RecipientRow).where(RecipientRow.id.in_(recipient_ids)))

    # ---- recipients --------------------------------------------------------------------------

    async def project_recipient(
        self,
        recipient_id: str,
        *,
        status: str,
        current_step: int,
        next_step_at: datetime | None,
        pause_source: str | None,
        version: int,
        error_cause: str | None = None,
        final_view: dict[str, Any] | None = None,
    ) -> bool:
        """Apply a workflow's state if it is newer than the row's; False if stale or gone."""
        values: dict[str, Any] = {
            "status": status,
            "current_step": current_step,
            "next_step_at": next_step_at,
            "pause_source": pause_source,
            "error_cause": error_cause,
            "version": version,
        }
        if final_view is not None:
            values["final_view"] = final_view
        if status != "paused":
            values["hold"] = False  # resumed (by a person or by `until`): the barrier lifts
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(RecipientRow)
                .where(RecipientRow.id == recipient_id, RecipientRow.version < version)
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def project_many(self, projections: Sequence[Projected]) -> None:
        """Many workflows' states in one executemany statement (a fan-out's page), each only
        where it is newer than the row, as `project_recipient` does for one."""
        if not projections:
            return
        table = RecipientRow.__table__
        assert isinstance(table, Table)
        statement = (
            update(table)
            .where(table.c.id == bindparam("p_id"), table.c.version < bindparam("p_version"))
            .values(
                status=bindparam("p_status"),
                current_step=bindparam("p_step"),
                next_step_at=bindparam("p_next"),
                pause_source=bindparam("p_source"),
                error_cause=bindparam("p_error"),
                version=bindparam("p_version"),
                # Anything but paused lifts a person's pause barrier, as in project_recipient.
                hold=case((bindparam("p_lift", type_=Boolean), false()), else_=table.c.hold),
            )
        )
        params = [
            {
                "p_id": p.recipient_id,
                "p_version": p.version,
                "p_status": p.status,
                "p_step": p.current_step,
                "p_next": p.next_step_at,
                "p_source": p.pause_source,
                "p_error": p.error_cause,
                "p_lift": p.status != "paused",
            }
            for p in projections
        ]
        async with self.sessions.begin() as session:
            await session.execute(statement, params)

    async def get_recipient(
        self, workspace: str, sequence_id: str, recipient_id: str
    ) -> RecipientRow | None:
        async with self.sessions() as session:
            row = await session.get(RecipientRow, recipient_id)
        if row is None or row.workspace != workspace or row.sequence_id != sequence_id:
            return None
        return row

    async def get_recipients(
        self, workspace: str, sequence_id: str, recipient_ids: Sequence[str]
    ) -> list[RecipientRow]:
        query = select(RecipientRow).where(
            RecipientRow.workspace == workspace,
            RecipientRow.sequence_id == sequence_id,
            RecipientRow.id.in_(recipient_ids),
        )
        async with self.sessions() as session:
            return list(await session.scalars(query))

    async def list_recipients(
        self,
        workspace: str,
        sequence_id: str,
        *,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        query = select(RecipientRow).where(
            RecipientRow.workspace == workspace, RecipientRow.sequence_id == sequence_id
        )
        return await self._keyset(query, RecipientRow, status, limit, cursor)

    async def set_hold(self, recipient_id: str, hold: bool) -> None:
        """The pause barrier (see store.ledger): recorded before a pause is acknowledged."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(RecipientRow).where(RecipientRow.id == recipient_id).values(hold=hold)
            )

    async def get_contact(self, contact_id: str) -> ContactRow | None:
        async with self.sessions() as session:
            return await session.get(ContactRow, contact_id)

    async def delete_recipient(self, recipient_id: str) -> None:
        """Delete erases the recipient's reporting too (its ledger rows); stop keeps them."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(DeliveryRow).where(DeliveryRow.recipient_id == recipient_id)
            )
            await session.execute(delete(RecipientRow).where(RecipientRow.id == recipient_id))

    async def sends_per_step(self, sequence_id: str) -> dict[int, int]:
        query = (
            select(DeliveryRow.step, func.count())
            .where(DeliveryRow.sequence_id == sequence_id, DeliveryRow.state == "sent")
            .group_by(DeliveryRow.step)
        )
        async with self.sessions() as session:
            return {step: count for step, count in (await session.execute(query)).all()}


__all__ = ["Enrolled", "IntegrityError", "NewContact", "Page", "Rejected", "Store"]


def _record_sequence_state(sequence_id: str, status: str, epoch: int, at: datetime | None) -> Any:
    """The sequence workflow's acknowledged state, unless a newer epoch is recorded."""
    return (
        update(SequenceRow)
        .where(SequenceRow.id == sequence_id, SequenceRow.epoch <= epoch)
        .values(status=status, epoch=epoch, state_at=at)
    )


def _hold_running(sequence_id: str, pause_source: str) -> Any:
    """One statement: the sequence's running recipients (domain.actions decides which those
    are) shown paused, from `pause_source`."""
    return (
        update(RecipientRow)
        .where(
            RecipientRow.sequence_id == sequence_id,
            RecipientRow.status.in_([s.value for s in HELD_BY_SEQUENCE_PAUSE]),
        )
        .values(status="paused", pause_source=pause_source)
        # No ORM objects live in these short sessions to keep in step; without this
        # SQLAlchemy adds RETURNING id and reads back every row (10,000 ids: +80 ms).
        .execution_options(synchronize_session=False)
    )


def _release_held(sequence_id: str) -> Any:
    """One statement: the recipients the sequence's pause held shown running again."""
    return (
        update(RecipientRow)
        .where(
            RecipientRow.sequence_id == sequence_id,
            RecipientRow.status == "paused",
            RecipientRow.pause_source == "sequence",
        )
        .values(status="in_progress", pause_source=None)
        .execution_options(synchronize_session=False)  # as in _hold_running
    )


def sender_of(definition: dict[str, Any]) -> str | None:
    """The sender in a sequence's stored definition (SequenceDefinition as JSON)."""
    sender: str | None = (definition.get("settings") or {}).get("sender_id")
    return sender


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; we store UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
