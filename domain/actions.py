"""The action-by-status table (docs/statuses-and-actions.md) — the one place it is written down.

Workflows (update validators), the API (409 bodies, `allowed_actions` on every row) and bulk
eligibility all ask `allowed_actions()` / `check()`; nothing else encodes these rules. So do
"has this recipient ended?" and "is it running?" (what a sequence pause or a sender change
holds): `RecipientSituation.ended` / `.running`, and `running_statuses()` for a SQL filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.statuses import (
    RESPONSE_STATUSES,
    Action,
    HoldSource,
    RecipientStatus,
    SequenceStatus,
    StepType,
    ends_sequence,
)

A = Action
S = RecipientStatus

_ENDED = frozenset({A.VIEW_CONTENT, A.DELETE})

# Row by row, as in docs/statuses-and-actions.md. Pending Action's "other" column is narrowed
# by step type below.
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

# A sequence pause (or a sender change) holds these, and a responded / meeting-booked recipient
# that still runs (see RecipientSituation.running); paused, error and ended ones keep theirs.
HELD_BY_SEQUENCE_PAUSE = frozenset({S.IN_PROGRESS, S.PENDING_ACTION})
# Bulk pause: "all must be in_progress/error".
BULK_PAUSABLE = frozenset({S.IN_PROGRESS, S.ERROR})

# The sequence-level actions by sequence status.
SEQUENCE_ACTIONS: dict[SequenceStatus, tuple[Action, ...]] = {
    SequenceStatus.ACTIVE: (A.PAUSE,),
    SequenceStatus.PAUSED: (A.RESUME,),
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
    # Every hold on a paused recipient (None: not known, as for a recipient from before holds
    # composed; then a paused one is taken to hold on its own).
    held_by: tuple[HoldSource, ...] | None = None

    @classmethod
    def of(
        cls,
        status: RecipientStatus,
        current_step: int,
        step_types: list[StepType],
        *,
        stop_on_response: bool,
        sequence_paused: bool,
        held_by: list[HoldSource] | None = None,
    ) -> RecipientSituation:
        """From what the workflow (or the store's projection) knows of a recipient."""
        steps_left = current_step < len(step_types)
        return cls(
            status=status,
            stop_on_response=stop_on_response,
            steps_left=steps_left,
            sequence_paused=sequence_paused,
            current_step_type=step_types[current_step] if steps_left else None,
            held_by=tuple(held_by) if held_by is not None else None,
        )

    @property
    def ended(self) -> bool:
        """Nothing more will ever be sent to them in this sequence."""
        if self.status in RESPONSE_STATUSES and not self.steps_left:
            return True  # responded with stop-on-response off, and every step is done
        return ends_sequence(self.status, stop_on_response=self.stop_on_response)

    @property
    def held_only_by_others(self) -> bool:
        """Paused, but not on its own: only its sender's (or sequence's) resume lifts it."""
        return (
            self.status is S.PAUSED
            and self.held_by is not None
            and HoldSource.RECIPIENT not in self.held_by
        )

    @property
    def running(self) -> bool:
        """Would go on sending: what a sequence pause or a sender change holds."""
        return self.status in HELD_BY_SEQUENCE_PAUSE or (
            self.status in RESPONSE_STATUSES and not self.ended
        )


def running_statuses(
    stop_on_response: bool,
) -> tuple[frozenset[RecipientStatus], frozenset[RecipientStatus]]:
    """`RecipientSituation.running` as a filter for a store statement: (running whatever the
    step, running only while steps are left)."""
    return HELD_BY_SEQUENCE_PAUSE, frozenset() if stop_on_response else RESPONSE_STATUSES


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
    if situation.held_only_by_others:
        allowed.discard(A.RESUME)
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
    elif action is A.RESUME and situation.held_only_by_others:
        reason = (
            "resume is not possible: the recipient is held by its sender's vacation, "
            "not on its own; resume the sender"
        )
    else:
        reason = f"{action.value} is not possible for a recipient in status {situation.status}"
    raise ActionRejected(action=action, status=situation.status, allowed=allowed, reason=reason)


def bulk_allowed(action: Action, situation: RecipientSituation) -> bool:
    """Bulk actions follow the table, with bulk pause narrowed to In Progress and Error."""
    if action is Action.PAUSE and situation.status not in BULK_PAUSABLE:
        return False
    return action in allowed_actions(situation)


def sequence_allows(action: Action, status: SequenceStatus) -> bool:
    return action in SEQUENCE_ACTIONS[status]
