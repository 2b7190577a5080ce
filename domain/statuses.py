"""Recipient statuses, step types and the actions a person can take (PRODUCT.md §2, §9)."""

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
