"""The action-by-status table of PRODUCT.md §3 — the one place it is written down.

Workflows (update validators), the API (409 bodies, `allowed_actions` on every row) and bulk
eligibility all ask `allowed_actions()` / `check()`; nothing else encodes these rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.statuses import Action, RecipientStatus, SequenceStatus, StepType

A = Action
S = RecipientStatus

_ENDED = frozenset({A.VIEW_CONTENT, A.DELETE})

# Row by row, as in PRODUCT.md §3. Pending Action's "other" column is narrowed by step type below.
TABLE: dict[RecipientStatus, frozenset[Action]] = {
    S.NOT_STARTED: frozenset({A.EDIT_CONTENT, A.VIEW_CONTENT, A.STOP, A.DELETE, A.EXCLUDE}),
    S.IN_PROGRESS: frozenset({A.PAUSE, A.SKIP, A.EDIT_CONTENT, A.STOP, A.DELETE}),
    S.PENDING_ACTION: frozenset(
        {A.PAUSE, A.SKIP, A.EDIT_CONTENT, A.STOP, A.DELETE, A.COMPLETE_TASK, A.SEND_MANUAL_EMAIL}
    ),
    S.PAUSED: frozenset({A.RESUME, A.VIEW_CONTENT, A.STOP, A.DELETE}),
    S.ERROR: frozenset({A.PAUSE, A.SKIP, A.EDIT_CONTENT, A.STOP, A.DELETE, A.RETRY}),
    S.COMPLETED: _ENDED,
    S.RESPONDED: _ENDED,
    S.MEETING_BOOKED: _ENDED,
    S.BOUNCED: _ENDED,
    S.STOPPED: _ENDED,
    S.UNSUBSCRIBED: _ENDED,
    S.EXCLUDED: _ENDED,
}

# Footnote *: a responded / meeting-booked recipient whose sequence goes on (stop-on-response
# off, steps left) can still be paused, skipped, edited and stopped, like In Progress.
_STILL_RUNNING_AFTER_RESPONSE = frozenset(
    {A.PAUSE, A.SKIP, A.EDIT_CONTENT, A.VIEW_CONTENT, A.STOP, A.DELETE}
)

# While the sequence is paused only stop, delete and view content remain (exclude too: it is
# the not-started form of stop, and nothing is sent either way).
_BLOCKED_WHILE_SEQUENCE_PAUSED = frozenset(
    {
        A.PAUSE,
        A.RESUME,
        A.SKIP,
        A.EDIT_CONTENT,
        A.RETRY,
        A.COMPLETE_TASK,
        A.SEND_MANUAL_EMAIL,
    }
)

# §5: a sequence pause holds exactly these; paused, error and ended recipients keep theirs.
HELD_BY_SEQUENCE_PAUSE = frozenset({S.IN_PROGRESS, S.PENDING_ACTION})
# §9 bulk: "pause (all must be in_progress/error)".
BULK_PAUSABLE = frozenset({S.IN_PROGRESS, S.ERROR})

# §5: the sequence-level actions by sequence status.
SEQUENCE_ACTIONS: dict[SequenceStatus, tuple[str, ...]] = {
    SequenceStatus.ACTIVE: ("pause",),
    SequenceStatus.PAUSED: ("resume",),
    SequenceStatus.ARCHIVED: (),
}

# Which person-step action fits which pending step.
_PERSON_ACTION = {StepType.TASK: A.COMPLETE_TASK, StepType.MANUAL_EMAIL: A.SEND_MANUAL_EMAIL}

# Stable order for `allowed_actions` in API answers.
_ORDER = list(Action)


@dataclass(frozen=True)
class RecipientSituation:
    """What the table needs to know about a recipient besides its status."""

    status: RecipientStatus
    stop_on_response: bool = True
    steps_left: bool = True
    sequence_paused: bool = False
    current_step_type: StepType | None = None


def allowed_actions(situation: RecipientSituation) -> list[Action]:
    status = situation.status
    allowed = set(TABLE[status])
    if status in (S.RESPONDED, S.MEETING_BOOKED) and (
        not situation.stop_on_response and situation.steps_left
    ):
        allowed = set(_STILL_RUNNING_AFTER_RESPONSE)
    if status is S.PENDING_ACTION:
        fitting = _PERSON_ACTION.get(situation.current_step_type)  # type: ignore[arg-type]
        allowed -= {a for a in _PERSON_ACTION.values() if a is not fitting}
    if situation.sequence_paused:
        allowed -= _BLOCKED_WHILE_SEQUENCE_PAUSED
    return [a for a in _ORDER if a in allowed]


@dataclass
class ActionRejected(Exception):
    """A person asked for an action the recipient's status does not allow (HTTP 409)."""

    action: Action
    status: RecipientStatus
    allowed: list[Action]
    reason: str

    def __str__(self) -> str:
        return self.reason


def check(action: Action, situation: RecipientSituation) -> None:
    allowed = allowed_actions(situation)
    if action in allowed:
        return
    if situation.sequence_paused and action in _BLOCKED_WHILE_SEQUENCE_PAUSED:
        reason = f"{action.value} is not possible while the sequence is paused"
    else:
        reason = f"{action.value} is not possible for a recipient in status {situation.status}"
    raise ActionRejected(action=action, status=situation.status, allowed=allowed, reason=reason)


def bulk_allowed(action: Action, situation: RecipientSituation) -> bool:
    """Bulk actions follow the table, with bulk pause narrowed to In Progress and Error."""
    if action is Action.PAUSE and situation.status not in BULK_PAUSABLE:
        return False
    return action in allowed_actions(situation)


def sequence_allows(action: str, status: SequenceStatus) -> bool:
    return action in SEQUENCE_ACTIONS[status]
