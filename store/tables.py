"""The store's tables: what the API lists, filters and counts without asking Temporal.

Temporal stays the source of truth for a recipient; `recipients` is a projection the workflow
keeps current (newest `version` wins), so a list of 10,000 recipients is one indexed query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class SequenceRow(Base):
    __tablename__ = "sequences"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]]
    # Sequence pause/resume: each acknowledged change bumps the epoch; `state_at` is the
    # moment the sequence workflow accepted it (recipients apply it as of then).
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    state_at: Mapped[datetime | None] = mapped_column(default=None)
    # The fan-out of the newest pause/resume the worker has begun (its epoch, 0: none yet):
    # recipients it has reached, of those it has to (written once per page, store/sequences).
    fan_out_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fan_out_reached: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fan_out_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("workspace", "email"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    company: Mapped[str | None] = mapped_column(String(200), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecipientRow(Base):
    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("sequence_id", "contact_id"),
        Index("ix_recipients_sequence_status_id", "sequence_id", "status", "id"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100))
    sequence_id: Mapped[str] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None]
    pause_source: Mapped[str | None] = mapped_column(String(20))
    # What the recipients table shows of the pause (the recipient's view has all of it).
    pause_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    pause_until: Mapped[datetime | None] = mapped_column(default=None)
    error_cause: Mapped[str | None] = mapped_column(String(40), default=None)
    # The workflow's state version this row reflects; older projections are ignored.
    version: Mapped[int] = mapped_column(Integer, default=-1)
    # Pause barrier: set by the API before it asks the workflow to pause, so a dispatch that
    # raced the pause cannot claim its delivery (see Store.claim_delivery).
    hold: Mapped[bool] = mapped_column(Boolean, default=False)
    # The recipient's last view when its workflow ended: served once Temporal's retention
    # has removed the history (stop keeps history and reporting; only delete erases it).
    final_view: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PendingPauseRow(Base):
    """A bulk pause shown and acknowledged but not yet taken by this recipient's workflow
    (its fan-out is on the way): the ledger refuses its messages meanwhile. Unlike `hold`,
    no projection lowers it; the bulk's fan-out removes it once the workflow answered."""

    __tablename__ = "pending_pauses"
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True
    )
    bulk_id: Mapped[str] = mapped_column(String(40))


UNCERTAIN_ONLY = "state = 'uncertain'"


class DeliveryRow(Base):
    """The delivery ledger: one row per recipient × step × dispatch key (at most one send)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("recipient_id", "step", "dispatch_key"),
        # The uncertain few, counted at every /metrics scrape: an index of just those rows,
        # so the count does not read a ledger that grows with every message.
        Index(
            "ix_deliveries_uncertain",
            "state",
            sqlite_where=text(UNCERTAIN_ONLY),
            postgresql_where=text(UNCERTAIN_ONLY),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(100))
    sequence_id: Mapped[str] = mapped_column(String(40), index=True)
    recipient_id: Mapped[str] = mapped_column(String(40), index=True)
    step: Mapped[int] = mapped_column(Integer)
    dispatch_key: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[str | None] = mapped_column(String(40))
    to: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(300))
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    # claimed → sent | failed | released (cancelled before hand-over) | uncertain
    state: Mapped[str] = mapped_column(String(20))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SuppressionRow(Base):
    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("workspace", "email"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SenderRow(Base):
    __tablename__ = "senders"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))  # connected | disconnected
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # domain.models.Vacation spans, as JSON (store/vacations.py); the ledger's barrier reads them.
    vacations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    vacations_version: Mapped[int] = mapped_column(Integer, default=0)


class InboundEventRow(Base):
    """A webhook already applied, by the provider's event id: redelivery changes nothing."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("workspace", "kind", "event_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    # The answer given the first time, returned again on redelivery.
    answer: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRow(Base):
    """A POST made with an Idempotency-Key: its answer, given again to a retry of it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("workspace", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    # sha256 of the route and the body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still being answered.
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundEndpointRow(Base):
    """A mail or calendar provider's own way in: it signs its posts with this secret."""

    __tablename__ = "inbound_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100), index=True)
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret still verifies until `previous_until`.
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpointRow(Base):
    """A host application's URL that receives outbound events (docs/webhooks.md)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # ",type,type," so one LIKE picks the endpoints of an event inside the writing statement
    event_types: Mapped[str] = mapped_column(String(1000))
    # Also the per-recipient events of a sequence's pause or resume (not only sequence.paused).
    per_recipient: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret signs beside the new one until `previous_until`.
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_until: Mapped[datetime | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDeliveryRow(Base):
    """One event for one endpoint: written with the change it tells of, delivered in id order
    (per endpoint, so a recipient's events arrive in the order they happened)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "message_id"),
        Index("ix_webhook_deliveries_endpoint_state_id", "endpoint_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(100))  # the webhook-id header
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)  # signed and sent as is, on every attempt
    recipient_id: Mapped[str | None] = mapped_column(String(40), default=None)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttemptRow(Base):
    """Every try of a delivery, for GET /v1/webhooks/{id}/deliveries."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
