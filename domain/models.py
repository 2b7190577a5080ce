"""What a sequence is and what a recipient is: the data the rules in domain/ work on.

Pure pydantic models, no I/O. They are durable (they live in running recipients' histories,
inside the workflow payloads of workflows/models.py): add fields with defaults; never rename
or remove one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain import content
from domain.statuses import HoldSource, RecipientStatus, ResumePolicy, StepState, StepType

SYSTEM = "system"


class StepContent(BaseModel):
    subject: str | None = None
    body: str | None = None
    title: str | None = None
    notes: str | None = None

    def with_edit(self, edit: StepContent) -> StepContent:
        return StepContent(**content.merged(self.model_dump(), edit.model_dump()))


class StepDefinition(BaseModel):
    type: StepType
    delay: timedelta
    delay_text: str | None = None  # the ISO-8601 text as the person wrote it
    content: StepContent = StepContent()
    business_days: bool = False  # the delay's days count only the schedule's open days


class SendingSchedule(BaseModel):
    timezone: str
    days: list[str]
    start: time
    end: time
    holidays: list[str] = []  # calendars: "FR", "US-CA" (domain/calendars.py)
    closed: list[date] = []  # the sequence's own closed days
    holiday_dates: list[date] = []  # the calendars' days, resolved when it was made

    def closed_days(self) -> list[date]:
        return [*self.closed, *self.holiday_dates]


class WindowIn(StrEnum):
    SEQUENCE = "sequence"  # the schedule's days and hours in its time zone
    RECIPIENT = "recipient"  # … in each recipient's own (theirs if they have one)


class ColleagueRule(StrEnum):
    """What a response (a reply or a meeting; not an out-of-office) does to the responder's
    colleagues (domain/colleagues.py) in the sequence, or in the workspace."""

    NONE = "none"
    PAUSE = "pause"
    STOP = "stop"


class ColleagueScope(StrEnum):
    SEQUENCE = "sequence"
    WORKSPACE = "workspace"


class SequenceSettings(BaseModel):
    resume_policy: ResumePolicy = ResumePolicy.FREEZE
    stop_on_response: bool = True
    schedule: SendingSchedule | None = None
    sender_id: str | None = None
    window_in: WindowIn = WindowIn.SEQUENCE
    on_colleague_response: ColleagueRule = ColleagueRule.NONE
    colleague_scope: ColleagueScope = ColleagueScope.SEQUENCE


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
    company: str | None = None
    timezone: str | None = None  # IANA; where the recipient lives

    def template_context(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "linkedin_url": self.linkedin_url,
            # Only when known: a template that names a missing company fails (strictly), it
            # does not write "None".
            **({"company": self.company} if self.company else {}),
            **self.fields,
        }


class Vacation(BaseModel):
    """A sender away from `start` to `end` (None: until someone resumes it); domain/vacations.py."""

    start: datetime
    end: datetime | None = None
    reason: str | None = None
    note: str | None = None


# ---- recipient state ------------------------------------------------------------------------


class PauseInfo(BaseModel):
    source: HoldSource
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
    state: StepState = StepState.PENDING
    at: datetime | None = None
    message_id: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str = SYSTEM
    details: dict[str, Any] = {}


class Announced(BaseModel):
    """How far a recipient's history has been turned into events (carried by continue-as-new)."""

    entries: int  # timeline entries already looked at
    status: RecipientStatus  # the status the last status_changed announced
    seq: int = 0  # events numbered so far
    # Events built for a projection the store did not take (it was down): the next one
    # carries them first.
    unwritten: list[dict[str, Any]] = []


class RecipientState(BaseModel):
    """Everything a recipient is; continue-as-new carries it whole."""

    status: RecipientStatus
    current_step: int = 0
    # When the current step was first due (keep_schedule resumes to it) and when it is due now.
    planned_at: datetime | None = None
    due_at: datetime | None = None
    # While paused: what was left of the current delay when the clock froze.
    remaining: timedelta | None = None
    # The first hold that applies (what `pause` has always shown), and the others that came on
    # top of it while it held: the clock froze with the first and thaws with the last.
    pause: PauseInfo | None = None
    more_holds: list[PauseInfo] = []
    error: ErrorInfo | None = None
    manual_send_at: datetime | None = None
    steps: list[StepRecord]
    content_overrides: dict[int, StepContent] = {}
    timeline: list[TimelineEntry] = []
    # How far the timeline has been told to webhooks (None: a recipient from before outbound
    # events, which starts telling from where it is, not from its whole past).
    announced: Announced | None = None
    # The newest sequence content edit this recipient has seen (StepContentChange.version).
    definition_version: int = 0
    # The newest sequence pause/resume this recipient applied (see SequenceStateChange).
    sequence_epoch: int = 0
    sequence_paused: bool = False
    # A dispatch the pause barrier refused: look again no sooner than this.
    held_until: datetime | None = None
    # The newest sender change this recipient has seen (SenderChange.version).
    sender_version: int = 0
    # The vacations of the sender this recipient sends from, as last told (SenderVacations).
    sender_vacations: list[Vacation] = []
    vacations_version: int = 0
    # Per step: how many times a person asked to try it again (the ledger's dispatch key).
    dispatch_rounds: dict[int, int] = {}
    # Inbound event ids already applied, so a redelivered webhook changes nothing.
    seen_events: list[str] = []
    # Bumped on every change; the store keeps only the newest projection.
    version: int = 0
