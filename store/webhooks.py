"""Outbound webhooks: the host application's endpoints and every delivery to them.

An event becomes one delivery row per subscribed endpoint in the same transaction as the
change it tells of (a recipient's projection, a sequence's fan-out): the transactional outbox,
so no change is told that did not happen and none that happened is lost. `enqueue` is one
INSERT … SELECT per event that picks the endpoints itself, so a workspace without endpoints
pays one indexed read, and a rewrite of the same event (a retried projection) adds nothing.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import Prefix
from domain.outbound import EventType, OutboundEvent
from store.db import Store, as_utc
from store.ids import new_id
from store.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

PREVIOUS_SECRET_SIGNS_FOR = timedelta(hours=24)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _types_column(types: Sequence[EventType]) -> str:
    return "," + ",".join(sorted(t.value for t in types)) + ","


def types_of(row: WebhookEndpointRow) -> list[str]:
    return [t for t in row.event_types.split(",") if t]


def _enqueue_statement(dialect: Any) -> Any:
    e = WebhookEndpointRow.__table__
    d = WebhookDeliveryRow.__table__
    assert isinstance(e, Table) and isinstance(d, Table)
    chosen = select(
        e.c.id,
        bindparam("p_mid", type_=String),
        bindparam("p_type", type_=String),
        bindparam("p_body", type_=Text),
        bindparam("p_rid", type_=String),
        literal(PENDING),
        literal(0),
        bindparam("p_now", type_=DateTime(timezone=True)),
    ).where(
        e.c.workspace == bindparam("p_ws"),
        e.c.enabled.is_(True),
        e.c.event_types.like(bindparam("p_like")),
        or_(bindparam("p_plain", type_=Boolean), e.c.per_recipient.is_(True)),
        ~exists().where(d.c.endpoint_id == e.c.id, d.c.message_id == bindparam("p_mid")),
    )
    columns = ["endpoint_id", "message_id", "type", "body", "recipient_id", "state", "attempts"]
    # NOT EXISTS keeps a rewrite from adding a row; ON CONFLICT keeps two writers of the same
    # event at once (PostgreSQL) from failing the transaction they are in.
    return dialect.insert(d).from_select([*columns, "created_at"], chosen).on_conflict_do_nothing()


_ENQUEUE = {"sqlite": _enqueue_statement(sqlite), "postgresql": _enqueue_statement(postgresql)}


async def enqueue(session: AsyncSession, workspace: str, events: Sequence[OutboundEvent]) -> None:
    """Inside the caller's transaction: a delivery of each event to each endpoint of the
    workspace subscribed to its type (per-recipient sequence events only where opted in)."""
    if not events:
        return
    now = datetime.now(UTC)
    params = [
        {
            "p_ws": workspace,
            "p_mid": event.id,
            "p_type": event.type.value,
            "p_body": event.body(),
            "p_rid": event.recipient_id,
            "p_now": now,
            "p_like": f"%,{event.type.value},%",
            "p_plain": not event.via_sequence,
        }
        for event in events
    ]
    await session.execute(_ENQUEUE[session.get_bind().dialect.name], params)


@dataclass(frozen=True)
class Due:
    """A delivery to attempt, with what signing and sending it takes."""

    delivery_id: int
    message_id: str
    body: str
    url: str
    secrets: list[str]  # the current one first; the previous one while it still signs
    state: str
    enabled: bool


@dataclass(frozen=True)
class Attempt:
    """One try of a delivery, as the log keeps it (no error: delivered)."""

    delivery_id: int
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None


class Webhooks:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- endpoints ---------------------------------------------------------------------------

    async def create(
        self,
        workspace: str,
        url: str,
        types: Sequence[EventType],
        description: str | None,
        per_recipient: bool,
    ) -> WebhookEndpointRow:
        row = WebhookEndpointRow(
            id=new_id(Prefix.WEBHOOK),
            workspace=workspace,
            url=url,
            event_types=_types_column(types),
            per_recipient=per_recipient,
            description=description,
            secret=new_secret(),
            enabled=True,
            created_at=datetime.now(UTC),
        )
        async with self.store.sessions.begin() as session:
            session.add(row)
        return row

    async def get(self, workspace: str, endpoint_id: str) -> WebhookEndpointRow | None:
        row = await self.endpoint(endpoint_id)
        return row if row is not None and row.workspace == workspace else None

    async def endpoint(self, endpoint_id: str) -> WebhookEndpointRow | None:
        """For the sender, which serves every workspace."""
        async with self.store.sessions() as session:
            return await session.get(WebhookEndpointRow, endpoint_id)

    async def enabled(self) -> list[WebhookEndpointRow]:
        """Every workspace's enabled endpoints (the worker makes sure each has a deliverer)."""
        query = select(WebhookEndpointRow).where(WebhookEndpointRow.enabled.is_(True))
        async with self.store.sessions() as session:
            return list(await session.scalars(query))

    async def all(self, workspace: str) -> list[WebhookEndpointRow]:
        query = select(WebhookEndpointRow).where(WebhookEndpointRow.workspace == workspace)
        async with self.store.sessions() as session:
            return list(await session.scalars(query.order_by(WebhookEndpointRow.id)))

    async def change(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        types: Sequence[EventType] | None = None,
        description: str | None = None,
        per_recipient: bool | None = None,
        enabled: bool | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = url
        if types is not None:
            values["event_types"] = _types_column(types)
        if description is not None:
            values["description"] = description
        if per_recipient is not None:
            values["per_recipient"] = per_recipient
        if enabled is not None:
            values |= {"enabled": enabled, "disabled_reason": None}
        if values:
            async with self.store.sessions.begin() as session:
                await session.execute(
                    update(WebhookEndpointRow)
                    .where(WebhookEndpointRow.id == endpoint_id)
                    .values(**values)
                )

    async def rotate(self, endpoint_id: str) -> None:
        async with self.store.sessions.begin() as session:
            row = await session.get(WebhookEndpointRow, endpoint_id)
            if row is None:
                return  # deleted meanwhile: the caller answers 404
            row.previous_secret = row.secret
            row.previous_until = datetime.now(UTC) + PREVIOUS_SECRET_SIGNS_FOR
            row.secret = new_secret()

    async def delete(self, endpoint_id: str) -> None:
        async with self.store.sessions.begin() as session:
            ids = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
            await session.execute(
                delete(WebhookAttemptRow).where(WebhookAttemptRow.delivery_id.in_(ids))
            )
            await session.execute(
                delete(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
            )
            await session.execute(
                delete(WebhookEndpointRow).where(WebhookEndpointRow.id == endpoint_id)
            )

    # ---- events ------------------------------------------------------------------------------

    async def publish(self, workspace: str, events: Sequence[OutboundEvent]) -> None:
        """Events of a change that has its own transaction (or none in the store)."""
        async with self.store.sessions.begin() as session:
            await enqueue(session, workspace, events)

    async def ping(self, endpoint_id: str, event: OutboundEvent) -> int:
        """A `ping` to one endpoint, whatever it subscribed to; its delivery id."""
        async with self.store.sessions.begin() as session:
            row = WebhookDeliveryRow(
                endpoint_id=endpoint_id,
                message_id=event.id,
                type=event.type.value,
                body=event.body(),
                state=PENDING,
                attempts=0,
                created_at=datetime.now(UTC),
            )
            session.add(row)
            await session.flush()
            return row.id

    # ---- delivering --------------------------------------------------------------------------

    async def pending(self, endpoint_id: str, limit: int) -> list[int]:
        query = (
            select(WebhookDeliveryRow.id)
            .where(
                WebhookDeliveryRow.endpoint_id == endpoint_id,
                WebhookDeliveryRow.state == PENDING,
            )
            .order_by(WebhookDeliveryRow.id)
            .limit(limit)
        )
        async with self.store.sessions() as session:
            return list(await session.scalars(query))

    async def due(self, delivery_ids: Sequence[int]) -> list[Due]:
        """These deliveries (in the order given; gone ones left out), with what signing and
        sending each takes, in one read."""
        async with self.store.sessions() as session:
            rows = {
                row.id: row
                for row in await session.scalars(
                    select(WebhookDeliveryRow).where(WebhookDeliveryRow.id.in_(delivery_ids))
                )
            }
            endpoints = {
                row.id: row
                for row in await session.scalars(
                    select(WebhookEndpointRow).where(
                        WebhookEndpointRow.id.in_({r.endpoint_id for r in rows.values()})
                    )
                )
            }
        found = []
        for delivery_id in delivery_ids:
            delivery = rows.get(delivery_id)
            endpoint = endpoints.get(delivery.endpoint_id) if delivery else None
            if delivery is None or endpoint is None:
                continue
            signing = [endpoint.secret]
            until = endpoint.previous_until
            if endpoint.previous_secret and until and as_utc(until) > datetime.now(UTC):
                signing.append(endpoint.previous_secret)
            found.append(
                Due(
                    delivery_id=delivery.id,
                    message_id=delivery.message_id,
                    body=delivery.body,
                    url=endpoint.url,
                    secrets=signing,
                    state=delivery.state,
                    enabled=endpoint.enabled,
                )
            )
        return found

    async def attempted(self, attempts: Sequence[Attempt]) -> None:
        """Log attempts (one transaction for a batch's worth): each its own row, and its
        delivery's state, count and next try."""
        if not attempts:
            return
        async with self.store.sessions.begin() as session:
            deliveries = {
                row.id: row
                for row in await session.scalars(
                    select(WebhookDeliveryRow).where(
                        WebhookDeliveryRow.id.in_([a.delivery_id for a in attempts])
                    )
                )
            }
            for attempt in attempts:
                error = attempt.error[:500] if attempt.error else None
                session.add(
                    WebhookAttemptRow(
                        delivery_id=attempt.delivery_id,
                        at=attempt.at,
                        status_code=attempt.status_code,
                        duration_ms=attempt.duration_ms,
                        error=error,
                    )
                )
                delivery = deliveries.get(attempt.delivery_id)
                if delivery is None:
                    continue  # deleted with its endpoint meanwhile
                delivery.attempts += 1
                delivery.last_status, delivery.last_error = attempt.status_code, error
                if error is None:
                    delivery.state, delivery.delivered_at = DELIVERED, attempt.at
                    delivery.next_attempt_at = None
                else:
                    delivery.next_attempt_at = attempt.next_attempt_at

    async def give_up(self, endpoint_id: str, delivery_id: int, reason: str) -> None:
        """Retried for as long as we promise: the delivery failed, the endpoint is disabled
        (what was pending waits, kept, until it is enabled again; new events are not kept
        for it meanwhile)."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.id == delivery_id)
                .values(state=FAILED, next_attempt_at=None)
            )
            await session.execute(
                update(WebhookEndpointRow)
                .where(WebhookEndpointRow.id == endpoint_id)
                .values(enabled=False, disabled_reason=reason[:500])
            )

    async def requeue(self, endpoint_id: str, delivery_id: int) -> bool:
        async with self.store.sessions.begin() as session:
            result = await session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == delivery_id,
                    WebhookDeliveryRow.endpoint_id == endpoint_id,
                )
                .values(state=PENDING, next_attempt_at=None)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # ---- the log -----------------------------------------------------------------------------

    async def deliveries(
        self, endpoint_id: str, limit: int, before: int | None
    ) -> list[tuple[WebhookDeliveryRow, list[WebhookAttemptRow]]]:
        """Newest first, each with its attempts (oldest first)."""
        query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
        if before is not None:
            query = query.where(WebhookDeliveryRow.id < before)
        async with self.store.sessions() as session:
            rows = list(
                await session.scalars(query.order_by(WebhookDeliveryRow.id.desc()).limit(limit))
            )
            attempts = list(
                await session.scalars(
                    select(WebhookAttemptRow)
                    .where(WebhookAttemptRow.delivery_id.in_([r.id for r in rows]))
                    .order_by(WebhookAttemptRow.id)
                )
            )
        by_delivery: dict[int, list[WebhookAttemptRow]] = {r.id: [] for r in rows}
        for attempt in attempts:
            by_delivery[attempt.delivery_id].append(attempt)
        return [(r, by_delivery[r.id]) for r in rows]

    async def delivery(self, endpoint_id: str, delivery_id: int) -> WebhookDeliveryRow | None:
        async with self.store.sessions() as session:
            row = await session.get(WebhookDeliveryRow, delivery_id)
        return row if row is not None and row.endpoint_id == endpoint_id else None
