"""Workflow payloads: one pydantic model per workflow input, update, signal and query result.

These are durable: they live in running recipients' histories. Add fields with defaults; never
rename or remove one (HTTP schemas in api/schemas.py are separate so the API can change freely).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.statuses import RecipientStatus, ResumePolicy, SequenceStatus, StepType

SYSTEM = "system"


class StepContent(BaseModel):
    subject: str | None = None
    body: str | None = None
    title: str | None = None
    notes: str | None = None


class StepDefinition(BaseModel):
    type: StepType
    delay: timedelta
    delay_text: str | None = None  # the ISO-8601 text as the person wrote it
    content: StepContent = StepContent()


class SendingSchedule(BaseModel):
    timezone: str
    days: list[str]
    start: time
    end: time


class SequenceSettings(BaseModel):
    resume_policy: ResumePolicy = ResumePolicy.FREEZE
    stop_on_response: bool = True
    schedule: SendingSchedule | None = None
    sender_id: str | None = None


class SequenceDefinition(BaseModel):
    version: int = 1
    name: str
    steps: list[StepDefinition]
    settings: SequenceSettings = SequenceSettings()


class Contact(BaseModel):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    fields: dict[str, str] = {}

    def template_context(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "linkedin_url": self.linkedin_url,
            **self.fields,
        }


# ---- recipient state ------------------------------------------------------------------------


class PauseInfo(BaseModel):
    source: Literal["recipient", "sequence"]
    reason: str | None = None
    note: str | None = None
    until: datetime | None = None
    paused_at: datetime
    actor: str = SYSTEM
    # The status a resume returns to (In Progress, Pending Action, or Error → retried).
    resume_to: RecipientStatus = RecipientStatus.IN_PROGRESS


class ErrorInfo(BaseModel):
    step: int
    cause: str
    fix: str
    detail: str | None = None


class StepRecord(BaseModel):
    index: int
    type: StepType
    state: Literal["pending", "sent", "skipped", "failed", "completed"] = "pending"
    at: datetime | None = None
    message_id: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str = SYSTEM
    details: dict[str, Any] = {}


class RecipientState(BaseModel):
    """Everything a recipient is; continue-as-new carries it whole."""

    status: RecipientStatus
    current_step: int = 0
    # When the current step was first due (keep_schedule resumes to it) and when it is due now.
    planned_at: datetime | None = None
    due_at: datetime | None = None
    # While paused: what was left of the current delay when the clock froze.
    remaining: timedelta | None = None
    pause: PauseInfo | None = None
    error: ErrorInfo | None = None
    manual_send_at: datetime | None = None
    steps: list[StepRecord]
    content_overrides: dict[int, StepContent] = {}
    timeline: list[TimelineEntry] = []
    # The newest sequence content edit this recipient has seen (StepContentChange.version).
    definition_version: int = 0
    # The newest sequence pause/resume this recipient applied (see SequenceStateChange).
    sequence_epoch: int = 0
    sequence_paused: bool = False
    # A dispatch the pause barrier refused: look again no sooner than this.
    held_until: datetime | None = None
    # The newest sender change this recipient has seen (SenderChange.version).
    sender_version: int = 0
    # Per step: how many times a person asked to try it again (the ledger's dispatch key).
    dispatch_rounds: dict[int, int] = {}
    # Inbound event ids already applied, so a redelivered webhook changes nothing.
    seen_events: list[str] = []
    # Bumped on every change; the store keeps only the newest projection.
    version: int = 0


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
    """What the API shows of a recipient: its state plus what a person may do next."""

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
    in_flight: Literal["cancelled", "completed", "failed"] | None = None


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
    kind: Literal[
        "reply",
        "meeting",
        "hard_bounce",
        "soft_bounce",
        "unsubscribe",
        "out_of_office",
        "auto_reply",
    ]
    at: datetime | None = None
    until: datetime | None = None  # out_of_office: the return date, when one could be read
    details: dict[str, Any] = {}


class ContentView(BaseModel):
    index: int
    type: StepType
    state: str
    resolved: StepContent | None
    error: str | None = None
    edited: bool = False


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
    pause_source: str | None
    version: int
    error_cause: str | None = None
    final_view: dict[str, Any] | None = None  # set once, when the workflow ends


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
    were running when it was acknowledged are paused for a person to look (PRODUCT.md §6)."""

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


class FanOutRequest(BaseModel):
    workspace: str
    sequence_id: str
    change: SequenceStateChange | None = None
    content: StepContentChange | None = None
    sender: SenderChange | None = None
