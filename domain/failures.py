"""Why a step did not go out, and what a person does about it (docs/errors.md).

Two families, told apart by where they end:
- `FailureCause`: the step failed; the recipient goes to Error with the cause and its fix.
- `NotSentYet`: the ledger refused the hand-over for a reason that is not the step's fault
  (a pause on its way, a suppressed address, a capped or changed sender); the recipient
  workflow decides what each means, and none of them is an error.

Activities raise them as `ApplicationError(type=<value>)`; the workflow reads the type back.
"""

from __future__ import annotations

from enum import StrEnum


class FailureCause(StrEnum):
    SENDER_DISCONNECTED = "sender_disconnected"
    MISSING_EMAIL = "missing_email"
    MISSING_PHONE = "missing_phone"
    INVALID_PHONE = "invalid_phone"
    MISSING_LINKEDIN_URL = "missing_linkedin_url"
    TEMPLATE_VARIABLE_MISSING = "template_variable_missing"
    TEMPLATE_INVALID = "template_invalid"
    PROVIDER_REJECTED = "provider_rejected"
    # Not a cause a channel raises: what a step that kept failing transiently ends as.
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    DELIVERY_UNCERTAIN = "delivery_uncertain"

    @property
    def fix(self) -> str:
        return FIXES[self]


FIXES: dict[FailureCause, str] = {
    FailureCause.SENDER_DISCONNECTED: "reconnect the sender; its recipients are retried",
    FailureCause.MISSING_EMAIL: "add an email address to the contact, or skip the step",
    FailureCause.MISSING_PHONE: "add a phone number to the contact, or skip the step",
    FailureCause.INVALID_PHONE: "correct the contact's phone number, or skip the step",
    FailureCause.MISSING_LINKEDIN_URL: "add a LinkedIn URL to the contact, or skip the step",
    FailureCause.TEMPLATE_VARIABLE_MISSING: "edit the content or add the field to the contact",
    FailureCause.TEMPLATE_INVALID: "edit the content",
    FailureCause.PROVIDER_REJECTED: "retry the step",
    FailureCause.PROVIDER_UNAVAILABLE: "retry the step",
    FailureCause.DELIVERY_UNCERTAIN: "check the mailbox, then retry or skip",
}
# A cause from a newer worker than this code knows: retrying is the safe advice.
UNKNOWN_FIX = "retry the step"


def fix_for(cause: str) -> str:
    try:
        return FailureCause(cause).fix
    except ValueError:
        return UNKNOWN_FIX


class NotSentYet(StrEnum):
    HELD = "held"  # a pause was recorded at the barrier and is on its way to the workflow
    SUPPRESSED = "suppressed"  # the address is on the suppression list
    SENDER_CAPPED = "sender_capped"  # the sender's daily cap is reached: tomorrow
    SENDER_CHANGED = "sender_changed"  # the sequence sends from another sender now
    SENDER_AWAY = "sender_away"  # the sender is on vacation: the details are its vacations

    @classmethod
    def of(cls, kind: str | None) -> NotSentYet | None:
        try:
            return cls(kind) if kind else None
        except ValueError:
            return None
