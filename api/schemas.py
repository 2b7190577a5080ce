"""Every HTTP model of the API (docs/api.md), in one place.

Separate from the workflow payloads (workflows/models.py): those live in running histories and
change only by adding defaults; these are the HTTP contract and change with it. api/convert.py
is where one becomes the other.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from domain import calendars, timing
from domain.models import ColleagueRule, ColleagueScope, WindowIn
from domain.outbound import EventType
from domain.statuses import (
    DispatchOutcome,
    HoldSource,
    RecipientStatus,
    ResumePolicy,
    SequenceStatus,
    StepState,
    StepType,
)
from domain.templates import check_syntax

MAX_BODY = 50_000
MAX_STEPS = 50
MAX_ENROLL = 1_000
MAX_BULK_SEQUENCES = 200  # sequences in one bulk action or eligibility question
MAX_FIELDS = 50  # custom fields per contact (each up to 5,000 characters)

Text = Annotated[str, Field(max_length=MAX_BODY)]
Short = Annotated[str, Field(min_length=1, max_length=500)]


class Strict(BaseModel):
    """A request body: unknown fields and NUL characters are refused (a NUL ends a C string:
    PostgreSQL, SMTP and many mail clients cannot carry it)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain a NUL character (\\u0000)")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _utc(value: datetime) -> datetime:
    """Every date-time we answer carries its offset (SQLite hands back naive UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# A date-time in an answer.
Aware = Annotated[datetime, AfterValidator(_utc)]


def _has_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-12-01T09:00:00Z")
    return value


# A date-time in a request: without an offset it would mean a different moment to each side.
AwareIn = Annotated[datetime, AfterValidator(_has_offset)]


def _template(value: str | None) -> str | None:
    if value is not None and (error := check_syntax(value)):
        raise ValueError(f"template syntax error: {error}")
    return value


class StepIn(Strict):
    type: StepType
    delay: str = Field(examples=["P2D", "PT30M", "PT0S"])
    subject: Short | None = None
    body: Text | None = None
    title: Short | None = None
    notes: Text | None = None
    # The delay's days count only the schedule's open days (weekdays, not holidays or closed
    # dates): P3D from a Friday is the Wednesday. Needs a schedule.
    business_days: bool = False

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: str) -> str:
        timing.parse_delay(value)  # raises with what is allowed
        return value

    _templates = field_validator("subject", "body", "title", "notes")(_template)

    @model_validator(mode="after")
    def _content_fits_type(self) -> StepIn:
        needs: dict[StepType, tuple[str, ...]] = {
            StepType.EMAIL: ("subject", "body"),
            StepType.MANUAL_EMAIL: ("subject", "body"),
            StepType.SMS: ("body",),
            StepType.LINKEDIN: ("body",),
            StepType.TASK: ("title",),
        }
        missing = [name for name in needs[self.type] if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.type.value} step needs {' and '.join(missing)}")
        return self


class StepOut(BaseModel):
    index: int
    type: StepType
    delay: str
    business_days: bool = False
    subject: str | None = None
    body: str | None = None
    title: str | None = None
    notes: str | None = None


class ScheduleIn(Strict):
    timezone: str = Field(examples=["Europe/Paris"])
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    start: time
    end: time
    # Holiday calendars: a country ("FR") or country-subdivision ("US-CA"); no automatic step
    # goes out on their holidays, nor on the `closed` dates, in the schedule's time zone.
    holidays: list[str] = Field(default=[], max_length=20, examples=[["FR", "US-CA"]])
    closed: list[date] = Field(default=[], max_length=366, examples=[["2026-12-24"]])

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return timing.check_time_zone(value)  # raises with what is allowed

    @field_validator("holidays")
    @classmethod
    def _calendars(cls, value: list[str]) -> list[str]:
        return [calendars.check_calendar(name) for name in dict.fromkeys(value)]

    @field_validator("closed")
    @classmethod
    def _closed(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _order(self) -> ScheduleIn:
        if self.start >= self.end:
            raise ValueError("start must be before end (windows do not cross midnight)")
        return self


class SequenceCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    steps: list[StepIn] = Field(min_length=1, max_length=MAX_STEPS)
    schedule: ScheduleIn | None = None
    resume_policy: ResumePolicy = ResumePolicy.FREEZE
    stop_on_response: bool = True
    sender_id: str | None = None
    # "recipient": the schedule's days and hours apply where each recipient lives (their
    # contact's `timezone`; the schedule's own for one without).
    window_in: WindowIn = WindowIn.SEQUENCE
    # When a recipient replies or books a meeting, its colleagues (same company, else same
    # work email domain) in this sequence, or in every sequence of the workspace, are paused
    # (reason colleague_responded) or stopped.
    on_colleague_response: ColleagueRule = ColleagueRule.NONE
    colleague_scope: ColleagueScope = ColleagueScope.SEQUENCE

    @model_validator(mode="after")
    def _business_days_need_a_schedule(self) -> SequenceCreate:
        if self.schedule is None:
            counted = [i for i, step in enumerate(self.steps) if step.business_days]
            if counted:
                raise ValueError(
                    f"steps {counted} count business days, which needs a schedule "
                    "(its days, holidays and closed dates say which days are open)"
                )
            if self.window_in is WindowIn.RECIPIENT:
                raise ValueError("window_in 'recipient' needs a schedule to apply")
        return self


class FanOutOut(BaseModel):
    """How far the sequence's last pause or resume has reached its recipients."""

    epoch: int = Field(description="the pause/resume (1: the first, 2: the next…) it is of")
    reached: int = Field(description="recipients it has reached so far")
    total: int = Field(description="recipients it has to reach; done when reached == total")


class SequencePublic(BaseModel):
    id: str
    name: str
    status: SequenceStatus
    steps: list[StepOut]
    schedule: ScheduleIn | None
    resume_policy: ResumePolicy
    stop_on_response: bool
    sender_id: str | None
    window_in: WindowIn = WindowIn.SEQUENCE
    on_colleague_response: ColleagueRule = ColleagueRule.NONE
    colleague_scope: ColleagueScope = ColleagueScope.SEQUENCE
    counts: dict[str, int]
    sends_per_step: dict[int, int] = {}  # messages sent, by step index (from the ledger)
    fan_out: FanOutOut | None = None  # None: never paused or resumed
    created_at: Aware


class SequencePage(BaseModel):
    items: list[SequencePublic]
    next_cursor: str | None


class RecipientIn(Strict):
    email: EmailStr | None = None
    first_name: Annotated[str, Field(max_length=200)] | None = None
    last_name: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    linkedin_url: Annotated[str, Field(max_length=500)] | None = None
    fields: Annotated[
        dict[
            Annotated[str, Field(min_length=1, max_length=100)],
            Annotated[str, Field(max_length=5_000)],
        ],
        Field(max_length=MAX_FIELDS),
    ] = {}
    company: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    # Where the recipient lives (IANA): with window_in "recipient", their sending window.
    timezone: str | None = Field(default=None, examples=["America/Los_Angeles"])

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else timing.check_time_zone(value)

    @model_validator(mode="after")
    def _reachable(self) -> RecipientIn:
        if not (self.email or self.phone or self.linkedin_url):
            raise ValueError("a recipient needs an email, a phone or a linkedin_url")
        return self


class EnrollRequest(Strict):
    recipients: list[RecipientIn] = Field(min_length=1, max_length=MAX_ENROLL)
    start_at: datetime | None = None

    @field_validator("start_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start_at needs a time zone, e.g. 2026-12-01T09:00:00Z")
        if value is not None and value > datetime.now(UTC) + timing.MAX_START_AHEAD:
            raise ValueError(f"start_at is more than {timing.MAX_START_AHEAD.days} days ahead")
        return value


class EnrolledOut(BaseModel):
    id: str
    contact_id: str
    email: str | None
    status: str


class RejectedOut(BaseModel):
    email: str | None
    reason: str


class EnrollResponse(BaseModel):
    enrolled: list[EnrolledOut]
    rejected: list[RejectedOut]


class RecipientRowOut(BaseModel):
    id: str
    sequence_id: str
    contact_id: str
    email: str | None
    status: str
    current_step: int
    next_step_at: Aware | None
    pause_source: str | None
    pause_reason: str | None = None
    pause_until: Aware | None = None
    allowed_actions: list[str]


class ContactOut(BaseModel):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    fields: dict[str, str] = {}
    company: str | None = None
    timezone: str | None = None


class PauseOut(BaseModel):
    source: HoldSource
    reason: str | None = None
    note: str | None = None
    until: Aware | None = None
    paused_at: Aware
    actor: str
    resume_to: RecipientStatus = Field(description="the status a resume returns to")


class HoldOut(BaseModel):
    """One hold on a recipient; it advances only when none is left."""

    source: HoldSource = Field(description="recipient (its own pause), sequence or sender")
    reason: str | None = None
    note: str | None = None
    until: Aware | None = None
    since: Aware = Field(validation_alias=AliasChoices("since", "paused_at"))


class ErrorOut(BaseModel):
    step: int
    cause: str = Field(description="see docs/errors.md for every cause and its fix")
    fix: str
    detail: str | None = None


class RecipientStepOut(BaseModel):
    index: int
    type: StepType
    state: StepState
    at: Aware | None = None
    message_id: str | None = None


class TimelineEntryOut(BaseModel):
    at: Aware
    kind: str
    actor: str
    details: dict[str, Any] = {}


class RecipientPublic(BaseModel):
    """One recipient: its state, what it waits for, and what a person may do next."""

    id: str
    sequence_id: str
    contact_id: str
    contact: ContactOut
    status: RecipientStatus
    current_step: int = Field(description="0-based index of the step being waited for or run")
    next_step_at: Aware | None
    pause: PauseOut | None
    error: ErrorOut | None
    allowed_actions: list[str]
    steps: list[RecipientStepOut]
    timeline: list[TimelineEntryOut]
    in_flight: DispatchOutcome | None = Field(
        default=None, description="on a pause answer: what became of a dispatch under way"
    )
    holds: list[HoldOut] = Field(
        default=[], description="every hold that applies while paused; `pause` is the first"
    )


class RecipientPage(BaseModel):
    items: list[RecipientRowOut]
    next_cursor: str | None


class PauseBody(Strict):
    reason: Annotated[str, Field(max_length=200)] | None = None
    note: Annotated[str, Field(max_length=5_000)] | None = None
    until: datetime | None = None

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("until needs a time zone, e.g. 2026-12-01T09:00:00Z")
        return value


class SkipBody(Strict):
    step: int | None = Field(
        default=None, description="the step you mean to skip; refused if it is no longer current"
    )


class SendManualEmailBody(Strict):
    at: datetime | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("at needs a time zone, e.g. 2026-12-01T09:00:00Z")
        return value


class EmptyBody(Strict):
    pass


class SequenceSettingsEdit(Strict):
    # Required (null removes the sender): changing it pauses the running recipients.
    sender_id: str | None


class ContentEdit(Strict):
    subject: Short | None = None
    body: Text | None = None
    title: Short | None = None
    notes: Text | None = None

    _templates = field_validator("subject", "body", "title", "notes")(_template)


class StepContentOut(BaseModel):
    index: int
    type: StepType
    state: str
    subject: str | None = None
    body: str | None = None
    title: str | None = None
    notes: str | None = None
    error: str | None = None  # why it cannot be rendered (e.g. a missing variable)
    edited: bool = False  # a personal edit for this recipient
    editable: bool = False


class ContentPanel(BaseModel):
    """View content (read-only) or, where the status allows editing, the same panel to edit."""

    mode: Literal["view", "edit"]
    steps: list[StepContentOut]


MAX_MATCHING = 10_000  # recipients one bulk call by filter may act on


class RecipientFilterIn(Strict):
    """Which recipients a bulk action means, instead of naming them (all given fields apply)."""

    status: RecipientStatus | None = None
    pause_reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    hold_source: HoldSource | None = None
    step: Annotated[int, Field(ge=0, le=999)] | None = None  # as `current_step`
    search: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class BulkRecipientAction(Strict):
    action: Literal["pause", "resume", "skip", "stop", "delete", "edit_content"]
    recipient_ids: list[str] | None = Field(default=None, min_length=1, max_length=1_000)
    filter: RecipientFilterIn | None = None
    confirmation_token: str | None = None
    # edit_content only: which step, and the new content
    step: int | None = None
    content: ContentEdit | None = None
    # pause only
    reason: Annotated[str, Field(max_length=200)] | None = None
    note: Annotated[str, Field(max_length=5_000)] | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _edit_needs_content(self) -> BulkRecipientAction:
        if self.action == "edit_content" and (self.step is None or self.content is None):
            raise ValueError("edit_content needs step and content")
        if (self.recipient_ids is None) == (self.filter is None):
            raise ValueError("give either recipient_ids or filter, not both or neither")
        return self


class BulkItem(BaseModel):
    id: str
    status: str | None = None
    reason: str | None = None


class BulkRecipientResult(BaseModel):
    action: str
    matched: int | None = None  # with a filter: how many recipients it matched
    applied: list[BulkItem] = []
    not_eligible: list[BulkItem] = []
    failed: list[BulkItem] = []
    # stop / delete: the first call only previews and returns this token to confirm with
    confirmation_required: bool = False
    confirmation_token: str | None = None
    # A large pause/resume: shown at once, each recipient reached after by this bulk's
    # fan-out (`applied` says what the store shows; each recipient's view follows).
    fan_out: str | None = None


# ---- sequences in bulk -----------------------------------------------------------------


class BulkSequenceAction(BaseModel):
    action: Literal["pause", "resume"]
    sequence_ids: list[str] = Field(min_length=1, max_length=MAX_BULK_SEQUENCES)


class BulkSequenceItem(BaseModel):
    id: str
    status: str | None = None
    reason: str | None = None


class BulkEligibility(BaseModel):
    pause: int
    resume: int
    not_found: list[str]


class BulkSequenceResult(BaseModel):
    action: str
    applied: list[BulkSequenceItem]
    not_eligible: list[BulkSequenceItem]


# ---- inbound events (webhooks) ---------------------------------------------------------


class Matched(BaseModel):
    sequence_id: str
    recipient_id: str
    status: str


class EventAnswer(BaseModel):
    matched: list[Matched]
    classification: str
    duplicate: bool = False  # true when this event id was already applied
    # The responder's colleagues its sequence's on_colleague_response paused or stopped.
    colleagues: list[Matched] = []


class ReplyIn(BaseModel):
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    from_: EmailStr = Field(alias="from")
    subject: Annotated[str, Field(max_length=2_000)] = ""
    text: Annotated[str, Field(max_length=200_000)] = ""
    headers: Annotated[
        dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=10_000)]],
        Field(max_length=200),
    ] = {}
    in_reply_to: Annotated[str, Field(max_length=10_000)] | None = None
    sequence_id: str | None = None
    received_at: AwareIn | None = None


class BounceIn(BaseModel):
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr | None = None
    kind: Literal["hard", "soft"] = "hard"
    raw: Annotated[str, Field(max_length=500_000)] | None = None


class UnsubscribeIn(BaseModel):
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr


class MeetingIn(BaseModel):
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    sequence_id: str | None = None
    at: AwareIn | None = None


# ---- the suppression list --------------------------------------------------------------


class SuppressionCreate(BaseModel):
    email: EmailStr
    reason: Annotated[str, Field(max_length=200)] = "added by hand"


class SuppressionPublic(BaseModel):
    email: str
    reason: str
    created_at: Aware
    recipients_unsubscribed: int | None = None


class SuppressionPage(BaseModel):
    items: list[SuppressionPublic]
    next_cursor: str | None


# ---- contacts in one sequence ----------------------------------------------------------


class ContactsInSequence(BaseModel):
    contact_ids: list[str] = Field(min_length=1, max_length=1_000)
    sequence_id: str
    reason: Annotated[str, Field(max_length=200)] | None = None
    note: Annotated[str, Field(max_length=5_000)] | None = None


class ContactOutcome(BaseModel):
    contact_id: str
    recipient_id: str | None = None
    status: str | None = None
    reason: str | None = None


class ContactsAnswer(BaseModel):
    changed: list[ContactOutcome]
    not_changed: list[ContactOutcome]


# ---- senders ---------------------------------------------------------------------------


class SenderCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    daily_cap: Annotated[int, Field(ge=1, le=100_000)] | None = None


class SenderUpdate(BaseModel):
    status: Literal["connected", "disconnected"] | None = None
    daily_cap: Annotated[int, Field(ge=1, le=100_000)] | None = None


class VacationBody(Strict):
    """A sender away: every recipient sending from it is held from `from` (now if left out)
    to `until` (until someone resumes the sender if left out)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: AwareIn | None = Field(default=None, alias="from")
    until: AwareIn | None = None
    reason: Annotated[str, Field(max_length=200)] | None = None
    note: Annotated[str, Field(max_length=5_000)] | None = None


class VacationOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Aware = Field(alias="from", validation_alias=AliasChoices("from", "start"))
    until: Aware | None = Field(default=None, validation_alias=AliasChoices("until", "end"))
    reason: str | None = None
    note: str | None = None
    current: bool = Field(description="true while it holds; false while only planned")


class SenderPublic(BaseModel):
    id: str
    name: str
    email: str
    status: str
    daily_cap: int | None
    created_at: Aware
    recipients_retried: int | None = None
    on_vacation: bool = False
    vacations: list[VacationOut] = Field(
        default=[], description="the one running now and those planned, merged where they overlap"
    )


# ---- development outbox (make run only) ------------------------------------------------


class OutboxEmail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    file: str
    channel: str = "email"
    from_: str | None = Field(alias="from")
    to: str | None
    subject: str | None
    message_id: str | None
    date: str | None
    text: str | None = Field(description="the text/plain body")


class OutboxMessage(BaseModel):
    file: str
    channel: str  # sms | linkedin
    to: str | None
    body: str | None


# ---- inbound endpoints (a provider's own, signed) -------------------------------------------


class InboundEndpointCreate(Strict):
    description: Annotated[str, Field(max_length=200)] | None = None


class InboundEndpointPublic(BaseModel):
    id: str
    description: str | None
    # POST {url}/replies, /bounces, /unsubscribes or /meetings, signed (docs/inbound-events.md)
    url: str
    created_at: Aware
    secret: str | None = Field(
        default=None, description="shown when created and when rotated, never again"
    )
    previous_secret_valid_until: Aware | None = None


class InboundEndpointPage(BaseModel):
    items: list[InboundEndpointPublic]
    next_cursor: str | None = None


# ---- outbound webhooks ----------------------------------------------------------------------


def _subscribable(events: list[EventType] | None) -> list[EventType] | None:
    if events is not None and EventType.PING in events:
        raise ValueError("ping is sent by POST /v1/webhooks/{id}/test, not subscribed to")
    return None if events is None else list(dict.fromkeys(events))


class WebhookCreate(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2_000)]
    events: list[EventType] = Field(min_length=1, max_length=len(EventType))
    description: Annotated[str, Field(max_length=200)] | None = None
    # Also each recipient's own status_changed when its sequence is paused or resumed.
    per_recipient_sequence_events: bool = False

    _events = field_validator("events")(_subscribable)


class WebhookUpdate(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2_000)] | None = None
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EventType))
    description: Annotated[str, Field(max_length=200)] | None = None
    per_recipient_sequence_events: bool | None = None
    enabled: bool | None = None

    _events = field_validator("events")(_subscribable)


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    per_recipient_sequence_events: bool
    enabled: bool
    disabled_reason: str | None = Field(
        default=None, description="why deliveries stopped (enable it again with PATCH)"
    )
    created_at: Aware
    secret: str | None = Field(
        default=None, description="shown when created and when rotated, never again"
    )
    previous_secret_signs_until: Aware | None = None


class WebhookPage(BaseModel):
    items: list[WebhookPublic]


class DeliveryAttemptOut(BaseModel):
    at: Aware
    status_code: int | None
    duration_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: int
    message_id: str = Field(description="the webhook-id header: the same on every attempt")
    type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: Aware | None
    created_at: Aware
    delivered_at: Aware | None
    attempt_log: list[DeliveryAttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = None
