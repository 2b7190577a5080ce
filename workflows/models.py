"""Workflow payloads: one pydantic model per workflow input, update, signal and query result.

These are durable: they live in running recipients' histories. Add fields with defaults; never
rename or remove one (HTTP schemas in api/schemas.py are separate so the API can change freely).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from domain.events import EventKind
from domain.models import (
    SYSTEM,
    Contact,
    ErrorInfo,
    PauseInfo,
    RecipientState,
    SendingSchedule,
    SequenceDefinition,
    SequenceSettings,
    StepContent,
    StepDefinition,
    StepRecord,
    TimelineEntry,
    Vacation,
)
from domain.outbound import OutboundEvent
from domain.statuses import (
    DispatchOutcome,
    HoldSource,
    RecipientStatus,
    SequenceStatus,
    StepState,
    StepType,
)

# The domain's models travel inside these payloads; importable from here too.
__all__ = [
    "SYSTEM",
    "Contact",
    "ErrorInfo",
    "PauseInfo",
    "RecipientState",
    "SendingSchedule",
    "SequenceDefinition",
    "SequenceSettings",
    "StepContent",
    "StepDefinition",
    "StepRecord",
    "TimelineEntry",
    "Vacation",
]


class RecipientInput(BaseModel):
    workspace: str
    sequence_id: str
    recipient_id: str
    contact_id: str
    contact: Contact
    definition: SequenceDefinition
    start_at: datetime | None = None
    enrolled_by: str = SYSTEM
    # Set by continue-as-new; None for a new enrollment.
    state: RecipientState | None = None
    # Continue-as-new once history passes this many events (Temporal suggests it at ~10k too).
    history_event_limit: int = 5_000


class RecipientView(BaseModel):
    """A recipient's state plus what a person may do next: the answer of the `view` query and
    of every update. The API shows it as api.schemas.RecipientPublic (a separate contract)."""

    id: str
    sequence_id: str
    contact_id: str
    contact: Contact
    status: RecipientStatus
    current_step: int
    next_step_at: datetime | None
    pause: PauseInfo | None
    error: ErrorInfo | None
    allowed_actions: list[str]
    steps: list[StepRecord]
    timeline: list[TimelineEntry]
    # Only on a pause answer: what happened to a dispatch that was under way.
    in_flight: DispatchOutcome | None = None
    # Every hold that applies (`pause` is the first of them).
    holds: list[PauseInfo] = []


# ---- update inputs --------------------------------------------------------------------------


class ActionRequest(BaseModel):
    actor: str = SYSTEM


class PauseRequest(ActionRequest):
    reason: str | None = None
    note: str | None = None
    until: datetime | None = None


class SkipRequest(ActionRequest):
    # The step the person meant to skip; a stale one (double click) is rejected.
    step: int | None = None


class SendManualEmailRequest(ActionRequest):
    at: datetime | None = None


class EditContentRequest(ActionRequest):
    step: int
    content: StepContent


class InboundEvent(BaseModel):
    """A fact from outside (webhook): recorded even while paused; `event_id` dedupes it."""

    event_id: str
    kind: EventKind
    at: datetime | None = None
    until: datetime | None = None  # out_of_office: the return date, when one could be read
    details: dict[str, Any] = {}


class ContentView(BaseModel):
    index: int
    type: StepType
    state: StepState
    resolved: StepContent | None  # no longer filled in by the workflow: see `content`
    content: StepContent | None = None  # the step's templates, as this recipient gets them
    error: str | None = None
    edited: bool = False
    editable: bool = False  # domain.content.step_editable, as of the query


# ---- activities -----------------------------------------------------------------------------


class DispatchRequest(BaseModel):
    workspace: str
    sequence_id: str
    recipient_id: str
    step: int
    type: StepType
    content: StepContent
    contact: Contact
    sender_id: str | None = None
    # Bumped when a person retries a step, so a fresh ledger row may be claimed.
    dispatch_key: str = "0"


class DispatchResult(BaseModel):
    message_id: str
    sent_at: datetime
    already_sent: bool = False  # a previous attempt had sent it; nothing was sent again


class RecipientProjection(BaseModel):
    workspace: str
    sequence_id: str
    recipient_id: str
    status: RecipientStatus
    current_step: int
    next_step_at: datetime | None
    pause_source: HoldSource | None
    version: int
    error_cause: str | None = None
    final_view: dict[str, Any] | None = None  # set once, when the workflow ends
    pause_reason: str | None = None
    pause_until: datetime | None = None
    events: list[OutboundEvent] = Field(default_factory=list)  # written with it, atomically


# ---- sequence -------------------------------------------------------------------------------


class SequenceInput(BaseModel):
    workspace: str
    sequence_id: str
    definition: SequenceDefinition
    status: SequenceStatus = SequenceStatus.ACTIVE
    pause_intervals: list[tuple[datetime, datetime | None]] = Field(default_factory=list)
    epoch: int = 0
    state_at: datetime | None = None
    fanned_out_epoch: int = 0
    content_edits: list[StepContentChange] = Field(default_factory=list)  # not yet fanned out
    # Not yet fanned out, in acknowledgement order: each says whether the sequence was paused.
    sender_changes: list[SenderChange] = Field(default_factory=list)
    # The sender's vacations, newest, not yet fanned out.
    vacations: SenderVacations | None = None


class SequenceView(BaseModel):
    sequence_id: str
    status: SequenceStatus
    definition: SequenceDefinition
    pause_intervals: list[tuple[datetime, datetime | None]]
    epoch: int = 0
    state_at: datetime | None = None  # when the current status was acknowledged


class SequenceStateChange(BaseModel):
    """Sent to every recipient of a sequence; the newest epoch wins, whatever the order."""

    epoch: int
    paused: bool
    at: datetime  # when the sequence workflow acknowledged it: recipients apply it as of then


class StepContentChange(BaseModel):
    """Sequence content edited: recipients that have not reached the step take it, unless
    they have a personal edit of it."""

    version: int  # the definition version this edit made
    step: int
    content: StepContent


class SenderChange(BaseModel):
    """The sequence's sender changed: recipients send from it from now on, and those that
    were running when it was acknowledged are paused for a person to look
    (docs/sequence-pause.md)."""

    version: int
    sender_id: str | None
    at: datetime  # acknowledged: recipients are paused as of then
    # Acknowledged while the sequence was paused: its resume is the person's go-ahead, so the
    # recipients it holds are not paused again one by one.
    sequence_paused: bool
    epoch: int  # the sequence pause/resume epoch it was acknowledged after


class ChangeSenderRequest(BaseModel):
    actor: str = SYSTEM
    sender_id: str | None


class EditStepRequest(BaseModel):
    actor: str = SYSTEM
    step: int
    content: StepContent


class SenderVacations(BaseModel):
    """A sender's vacations, whole (the newest version wins): every recipient sending from it
    is held during each and released at its end (domain/vacations.py)."""

    sender_id: str
    version: int
    vacations: list[Vacation]


class StartingHolds(BaseModel):
    """What holds a recipient from its first moment: its sequence's state and its sender's
    vacations, read from the store once it exists."""

    sequence: SequenceStateChange
    vacations: SenderVacations | None = None


class FanOutRequest(BaseModel):
    workspace: str
    sequence_id: str
    change: SequenceStateChange | None = None
    content: StepContentChange | None = None
    sender: SenderChange | None = None
    vacations: SenderVacations | None = None


class BulkHoldRequest(BaseModel):
    """A bulk pause or resume already shown in the store: each recipient is asked in turn
    (a pause waits at the ledger's barrier, `pending_pauses`, until its workflow answers)."""

    workspace: str
    sequence_id: str
    bulk_id: str
    pause: bool
    request: PauseRequest  # the actor; for a pause its reason, note and until
    recipient_ids: list[str]


class BulkHoldOutcome(BaseModel):
    applied: int
    refused: int  # the recipient had moved on (ended, resumed, …): it keeps its own state


# ---- outbound webhooks ----------------------------------------------------------------------


class WebhookEndpointInput(BaseModel):
    workspace: str
    endpoint_id: str
    first_retry: timedelta  # then doubling, up to max_retry, for as long as give_up_after
    max_retry: timedelta
    give_up_after: timedelta
    handled: int = 0  # deliveries done in earlier runs (continue-as-new)


class PendingRequest(BaseModel):
    endpoint_id: str
    wait: timedelta  # how long to wait for one before answering none


class DeliverRequest(BaseModel):
    endpoint_id: str
    delivery_id: int
    first_retry: timedelta
    max_retry: timedelta
    tried_before: int = 0  # attempts already made for it (by a batch), for the log's estimate


class BatchRequest(BaseModel):
    endpoint_id: str
    delivery_ids: list[int]
    first_retry: timedelta  # when a failed one is tried again (for the log)


class BatchResult(BaseModel):
    delivered: int  # how many of the batch, in order, were delivered
    failed: int | None = None  # the one that failed (its first attempt is logged), if any


class GiveUpRequest(BaseModel):
    endpoint_id: str
    delivery_id: int
    reason: str
