"""Inbound events and what each does to a recipient (docs/inbound-events.md).

The API turns a webhook into an `EventKind` (a reply is classified by domain.inbound first);
the recipient workflow asks `outcome()` what status it leads to.
"""

from __future__ import annotations

from enum import StrEnum

from domain.inbound import ReplyKind
from domain.statuses import RecipientStatus


class EventKind(StrEnum):
    REPLY = "reply"
    MEETING = "meeting"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"  # recorded; the provider retries
    UNSUBSCRIBE = "unsubscribe"
    OUT_OF_OFFICE = "out_of_office"  # pauses the recipient (until the return date, if read)
    AUTO_REPLY = "auto_reply"  # recorded only


_OUTCOMES = {
    EventKind.REPLY: RecipientStatus.RESPONDED,
    EventKind.MEETING: RecipientStatus.MEETING_BOOKED,
    EventKind.HARD_BOUNCE: RecipientStatus.BOUNCED,
    EventKind.UNSUBSCRIBE: RecipientStatus.UNSUBSCRIBED,
}

_FROM_REPLY = {
    ReplyKind.REPLY: EventKind.REPLY,
    ReplyKind.OUT_OF_OFFICE: EventKind.OUT_OF_OFFICE,
    ReplyKind.AUTO_REPLY: EventKind.AUTO_REPLY,
    ReplyKind.BOUNCE: EventKind.HARD_BOUNCE,
}


def outcome(kind: EventKind) -> RecipientStatus | None:
    """The status the event leads to, or None for events that change no status by themselves."""
    return _OUTCOMES.get(kind)


def kind_of_reply(kind: ReplyKind) -> EventKind:
    """An inbound message, once classified."""
    return _FROM_REPLY[kind]


def changes_an_ended_recipient(kind: EventKind) -> bool:
    """An ended recipient only records events, except an unsubscribe (it becomes Unsubscribed
    whatever it ended as, so the list shows who opted out)."""
    return kind is EventKind.UNSUBSCRIBE
