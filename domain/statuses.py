"""Recipient statuses, step types and the actions a person can take.

What each means for a person: docs/statuses-and-actions.md.
"""

from __future__ import annotations

from enum import StrEnum


class RecipientStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    PENDING_ACTION = "pending_action"
    PAUSED = "paused"
    ERROR = "error"
    COMPLETED = "completed"
    RESPONDED = "responded"
    MEETING_BOOKED = "meeting_booked"
    BOUNCED = "bounced"
    STOPPED = "stopped"
    UNSUBSCRIBED = "unsubscribed"
    EXCLUDED = "excluded"


# What a person reads (the help-centre articles' labels).
LABELS = {
    RecipientStatus.NOT_STARTED: "Not Started",
    RecipientStatus.IN_PROGRESS: "In Progress",
    RecipientStatus.PENDING_ACTION: "Pending Action",
    RecipientStatus.PAUSED: "Paused",
    RecipientStatus.ERROR: "Error",
    RecipientStatus.COMPLETED: "Completed",
    RecipientStatus.RESPONDED: "Responded",
    RecipientStatus.MEETING_BOOKED: "Meeting Booked",
    RecipientStatus.BOUNCED: "Bounced",
    RecipientStatus.STOPPED: "Stopped",
    RecipientStatus.UNSUBSCRIBED: "Unsubscribed",
    RecipientStatus.EXCLUDED: "Excluded",
}

# Statuses after which nothing more is ever sent to the recipient in this sequence.
# Responded / meeting booked end it only when the sequence's stop-on-response rule is on.
FINAL_STATUSES = frozenset(
    {
        RecipientStatus.COMPLETED,
        RecipientStatus.BOUNCED,
        RecipientStatus.STOPPED,
        RecipientStatus.UNSUBSCRIBED,
        RecipientStatus.EXCLUDED,
    }
)
RESPONSE_STATUSES = frozenset({RecipientStatus.RESPONDED, RecipientStatus.MEETING_BOOKED})


def ends_sequence(status: RecipientStatus, *, stop_on_response: bool) -> bool:
    return status in FINAL_STATUSES or (stop_on_response and status in RESPONSE_STATUSES)


class StepType(StrEnum):
    EMAIL = "email"
    MANUAL_EMAIL = "manual_email"
    TASK = "task"
    LINKEDIN = "linkedin"
    SMS = "sms"


# Steps a channel executes by itself; the others wait for a person (Pending Action).
AUTOMATIC_STEPS = frozenset({StepType.EMAIL, StepType.LINKEDIN, StepType.SMS})


class Action(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    EDIT_CONTENT = "edit_content"
    VIEW_CONTENT = "view_content"
    STOP = "stop"
    DELETE = "delete"
    RETRY = "retry"
    EXCLUDE = "exclude"
    COMPLETE_TASK = "complete_task"
    SEND_MANUAL_EMAIL = "send_manual_email"

    @property
    def url_segment(self) -> str:
        return self.value.replace("_", "-")

    @classmethod
    def from_url_segment(cls, segment: str) -> Action:
        return cls(segment.replace("-", "_"))


class SequenceStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class ResumePolicy(StrEnum):
    FREEZE = "freeze"
    KEEP_SCHEDULE = "keep_schedule"


class HoldSource(StrEnum):
    """Who holds a recipient: itself (a person, an out-of-office, a colleague's response, a
    sender change), its sequence's pause, or its sender's vacation. Each is lifted only by its
    own resume (or its `until`); the recipient advances only while none applies."""

    RECIPIENT = "recipient"
    SEQUENCE = "sequence"
    SENDER = "sender"


class StepState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    COMPLETED = "completed"


class DispatchOutcome(StrEnum):
    """How a dispatch under way ended when a pause, skip or stop halted it."""

    CANCELLED = "cancelled"  # nothing was handed over: the step is attempted again
    COMPLETED = "completed"  # it went out before the halt landed
    FAILED = "failed"
