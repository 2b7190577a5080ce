"""Recipients: enrollment, the list the API pages and filters, and the projection of each
recipient workflow's state into its row.

The projection has one write path, `project`: a row only ever moves to a newer `version`, and a
projection that is not `paused` lifts the recipient's pause barrier (store/holds.py). The
workflow's local activity writes one; the sequence fan-out writes a page in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Table, bindparam, delete, func, or_, select, update

from domain.colleagues import company_key
from domain.ids import Prefix
from domain.outbound import EventType, OutboundEvent
from domain.statuses import HoldSource, RecipientStatus
from store.db import Page, Store
from store.holds import hold_after, lifts_hold
from store.ids import new_id
from store.tables import ContactRow, DeliveryRow, RecipientRow
from store.webhooks import enqueue


@dataclass(frozen=True)
class NewContact:
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    fields: dict[str, Any] | None = None
    company: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Enrolled:
    recipient_id: str
    contact_id: str
    contact: NewContact
    status: RecipientStatus


@dataclass(frozen=True)
class Rejected:
    email: str | None
    reason: str


@dataclass(frozen=True)
class RecipientFilter:
    """Which recipients of a sequence a list or a bulk action means (None: any)."""

    status: RecipientStatus | None = None
    search: str | None = None  # part of the email address or of the contact's name
    error_cause: str | None = None
    pause_reason: str | None = None
    hold_source: HoldSource | None = None
    step: int | None = None  # the current step's index, as `current_step`

    def also(
        self, status: RecipientStatus | None, search: str | None, error_cause: str | None
    ) -> RecipientFilter:
        return replace(
            self,
            status=status or self.status,
            search=search or self.search,
            error_cause=error_cause or self.error_cause,
        )


def _matching(workspace: str, sequence_id: str, where: RecipientFilter) -> Any:
    query = select(RecipientRow).where(
        RecipientRow.workspace == workspace, RecipientRow.sequence_id == sequence_id
    )
    if where.status:
        query = query.where(RecipientRow.status == where.status.value)
    if where.error_cause:
        query = query.where(RecipientRow.error_cause == where.error_cause)
    if where.pause_reason:
        query = query.where(RecipientRow.pause_reason == where.pause_reason)
    if where.hold_source:
        query = query.where(RecipientRow.pause_source == where.hold_source.value)
    if where.step is not None:
        query = query.where(RecipientRow.current_step == where.step)
    if where.search:
        like = f"%{where.search.strip().lower()}%"
        query = query.join(ContactRow, ContactRow.id == RecipientRow.contact_id).where(
            or_(
                RecipientRow.email.like(like),
                func.lower(ContactRow.first_name).like(like),
                func.lower(ContactRow.last_name).like(like),
                func.lower(ContactRow.first_name + " " + ContactRow.last_name).like(like),
            )
        )
    return query


@dataclass(frozen=True)
class Projected:
    """One workflow's state for the recipients list."""

    recipient_id: str
    version: int
    status: RecipientStatus
    current_step: int
    next_step_at: datetime | None
    pause_source: HoldSource | None
    error_cause: str | None = None
    pause_reason: str | None = None
    pause_until: datetime | None = None
    final_view: dict[str, Any] | None = None  # once, when the workflow ends
    workspace: str = ""
    events: Sequence[OutboundEvent] = ()  # told to webhooks, in the same transaction


def _projection_statement() -> Any:
    table = RecipientRow.__table__
    assert isinstance(table, Table)
    return (
        update(table)
        .where(table.c.id == bindparam("p_id"), table.c.version < bindparam("p_version"))
        .values(
            status=bindparam("p_status"),
            current_step=bindparam("p_step"),
            next_step_at=bindparam("p_next"),
            pause_source=bindparam("p_source"),
            pause_reason=bindparam("p_reason"),
            pause_until=bindparam("p_until"),
            error_cause=bindparam("p_error"),
            version=bindparam("p_version"),
            hold=hold_after(table.c.hold, bindparam("p_lift", type_=Boolean)),
            # Set once, by the last projection; no other one may clear it.
            final_view=func.coalesce(
                bindparam("p_final", type_=JSON(none_as_null=True)), table.c.final_view
            ),
        )
    )


_PROJECT = _projection_statement()


class Recipients:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- enrollment --------------------------------------------------------------------------

    async def enroll(
        self,
        workspace: str,
        sequence_id: str,
        contacts: Sequence[NewContact],
        status: RecipientStatus,
    ) -> tuple[list[Enrolled], list[Rejected]]:
        """Create contacts (found again by email) and their recipient rows in one transaction.

        A contact already in the sequence (or twice in the request) is rejected, not duplicated.
        """
        enrolled: list[Enrolled] = []
        rejected: list[Rejected] = []
        emails = [c.email.lower() for c in contacts if c.email]
        async with self.store.sessions.begin() as session:
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
                        id=new_id(Prefix.CONTACT),
                        workspace=workspace,
                        email=email,
                        first_name=contact.first_name,
                        last_name=contact.last_name,
                        phone=contact.phone,
                        linkedin_url=contact.linkedin_url,
                        fields=contact.fields or {},
                        company=contact.company,
                        timezone=contact.timezone,
                    )
                    session.add(row)
                else:  # known: what this enrollment says of the company and zone is newer
                    row.company = contact.company or row.company
                    row.timezone = contact.timezone or row.timezone
                recipient_id = new_id(Prefix.RECIPIENT)
                session.add(
                    RecipientRow(
                        id=recipient_id,
                        workspace=workspace,
                        sequence_id=sequence_id,
                        contact_id=row.id,
                        email=email,
                        status=status.value,
                    )
                )
                enrolled.append(Enrolled(recipient_id, row.id, contact, status))
        return enrolled, rejected

    async def forget_enrollment(self, recipient_ids: Sequence[str]) -> None:
        """Undo rows whose workflow could not be started, so nothing half-exists."""
        async with self.store.sessions.begin() as session:
            await session.execute(delete(RecipientRow).where(RecipientRow.id.in_(recipient_ids)))

    # ---- the projection ----------------------------------------------------------------------

    async def project(self, projections: Sequence[Projected]) -> int:
        """Write each projection where it is newer than its row (one statement for all);
        how many rows changed."""
        if not projections:
            return 0
        params = [
            {
                "p_id": p.recipient_id,
                "p_version": p.version,
                "p_status": p.status.value,
                "p_step": p.current_step,
                "p_next": p.next_step_at,
                "p_source": p.pause_source.value if p.pause_source else None,
                "p_reason": p.pause_reason,
                "p_until": p.pause_until,
                "p_error": p.error_cause,
                "p_final": p.final_view,
                "p_lift": lifts_hold(p.status),
            }
            for p in projections
        ]
        async with self.store.sessions.begin() as session:
            result = await session.execute(_PROJECT, params)
            for workspace in {p.workspace for p in projections if p.events}:
                told = [e for p in projections if p.workspace == workspace for e in p.events]
                await enqueue(session, workspace, told)
            return int(result.rowcount)  # type: ignore[attr-defined]

    # ---- reading -----------------------------------------------------------------------------

    async def get(self, workspace: str, sequence_id: str, recipient_id: str) -> RecipientRow | None:
        async with self.store.sessions() as session:
            row = await session.get(RecipientRow, recipient_id)
        if row is None or row.workspace != workspace or row.sequence_id != sequence_id:
            return None
        return row

    async def get_many(
        self, workspace: str, sequence_id: str, recipient_ids: Sequence[str]
    ) -> list[RecipientRow]:
        query = select(RecipientRow).where(
            RecipientRow.workspace == workspace,
            RecipientRow.sequence_id == sequence_id,
            RecipientRow.id.in_(recipient_ids),
        )
        async with self.store.sessions() as session:
            return list(await session.scalars(query))

    async def of_contacts(
        self, workspace: str, sequence_id: str, contact_ids: Sequence[str]
    ) -> list[RecipientRow]:
        """The recipients these contacts are in one sequence (contacts not in it: absent)."""
        query = select(RecipientRow).where(
            RecipientRow.workspace == workspace,
            RecipientRow.sequence_id == sequence_id,
            RecipientRow.contact_id.in_(contact_ids),
        )
        async with self.store.sessions() as session:
            return list(await session.scalars(query))

    async def page(
        self,
        workspace: str,
        sequence_id: str,
        *,
        status: RecipientStatus | None,
        limit: int,
        cursor: str | None,
        search: str | None = None,
        error_cause: str | None = None,
        where: RecipientFilter | None = None,
    ) -> Page:
        """`search`: part of the email address or of the contact's name."""
        where = (where or RecipientFilter()).also(status, search, error_cause)
        query = _matching(workspace, sequence_id, replace(where, status=None))
        return await self.store.keyset(
            query, RecipientRow, where.status.value if where.status else None, limit, cursor
        )

    async def matching(
        self, workspace: str, sequence_id: str, where: RecipientFilter, limit: int
    ) -> list[RecipientRow]:
        """Every recipient the filter matches, in id order, at most `limit` of them."""
        query = _matching(workspace, sequence_id, where).order_by(RecipientRow.id).limit(limit)
        async with self.store.sessions() as session:
            return list(await session.scalars(query))

    async def count(self, workspace: str, sequence_id: str, where: RecipientFilter) -> int:
        query = select(func.count()).select_from(
            _matching(workspace, sequence_id, where).subquery()
        )
        async with self.store.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def possible_colleagues(
        self,
        workspace: str,
        sequence_id: str | None,
        company: str | None,
        domain: str | None,
        but_contact: str,
    ) -> list[RecipientRow]:
        """Recipients (of one sequence, or of the workspace) whose contact names the same
        company, or whose address is at `domain`: domain.colleagues decides among them."""
        if not company and not domain:
            return []
        query = (
            select(RecipientRow)
            .join(ContactRow, ContactRow.id == RecipientRow.contact_id)
            .where(RecipientRow.workspace == workspace, RecipientRow.contact_id != but_contact)
        )
        if sequence_id:
            query = query.where(RecipientRow.sequence_id == sequence_id)
        either = []
        if company:
            either.append(func.lower(func.trim(ContactRow.company)) == company_key(company))
        if domain:
            either.append(RecipientRow.email.like(f"%@{domain}"))
        async with self.store.sessions() as session:
            return list(await session.scalars(query.where(or_(*either)).limit(10_000)))

    async def contacts_of(self, rows: Sequence[RecipientRow]) -> dict[str, ContactRow]:
        ids = list({row.contact_id for row in rows})
        async with self.store.sessions() as session:
            found = await session.scalars(select(ContactRow).where(ContactRow.id.in_(ids)))
            return {contact.id: contact for contact in found}

    async def ids_page(
        self, sequence_id: str, after_id: str, limit: int, *, descending: bool = False
    ) -> list[str]:
        """A sequence's recipient ids in id order (or reversed: then "after" means below, and
        "" starts from the top), for the fan-out."""
        query = select(RecipientRow.id).where(RecipientRow.sequence_id == sequence_id)
        if descending:
            if after_id:
                query = query.where(RecipientRow.id < after_id)
            query = query.order_by(RecipientRow.id.desc())
        else:
            query = query.where(RecipientRow.id > after_id).order_by(RecipientRow.id)
        async with self.store.sessions() as session:
            return list(await session.scalars(query.limit(limit)))

    # ---- delete ------------------------------------------------------------------------------

    async def delete(self, recipient_id: str) -> None:
        """Delete erases the recipient's reporting too (its ledger rows); stop keeps them.
        Webhooks are told (recipient.deleted) in the same transaction."""
        async with self.store.sessions.begin() as session:
            row = await session.get(RecipientRow, recipient_id)
            if row is not None:
                told = OutboundEvent(
                    id=f"evt_{recipient_id}_deleted",
                    type=EventType.RECIPIENT_DELETED,
                    at=datetime.now(UTC),
                    data={
                        "recipient_id": recipient_id,
                        "sequence_id": row.sequence_id,
                        "contact_id": row.contact_id,
                    },
                    recipient_id=recipient_id,
                )
                await enqueue(session, row.workspace, [told])
            await session.execute(
                delete(DeliveryRow).where(DeliveryRow.recipient_id == recipient_id)
            )
            await session.execute(delete(RecipientRow).where(RecipientRow.id == recipient_id))
