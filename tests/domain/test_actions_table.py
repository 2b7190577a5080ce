"""Every cell of the action table, written out here as a person reads it, checked in code."""

from __future__ import annotations

import pytest

from domain.actions import ActionRejected, RecipientSituation, allowed_actions, check
from domain.statuses import Action, RecipientStatus, StepType

COLUMNS = ["pause", "resume", "skip", "edit_content", "view_content", "stop", "delete"]
# status: pause resume skip edit view stop delete | other
SPEC = {
    "not_started": ("-", "-", "-", "Y", "Y", "Y", "Y", {"exclude"}),
    "in_progress": ("Y", "-", "Y", "Y", "-", "Y", "Y", set()),
    "pending_action": ("Y", "-", "Y", "Y", "-", "Y", "Y", {"complete_task", "send_manual_email"}),
    "paused": ("-", "Y", "-", "-", "Y", "Y", "Y", set()),
    "error": ("Y", "-", "Y", "Y", "-", "Y", "Y", {"retry"}),
    "completed": ("-", "-", "-", "-", "Y", "-", "Y", set()),
    "responded": ("-", "-", "-", "-", "Y", "-", "Y", set()),
    "meeting_booked": ("-", "-", "-", "-", "Y", "-", "Y", set()),
    "bounced": ("-", "-", "-", "-", "Y", "-", "Y", set()),
    "stopped": ("-", "-", "-", "-", "Y", "-", "Y", set()),
    "unsubscribed": ("-", "-", "-", "-", "Y", "-", "Y", set()),
    "excluded": ("-", "-", "-", "-", "Y", "-", "Y", set()),
}
ALL_ACTIONS = [a.value for a in Action]


def expected(status: str) -> set[str]:
    *marks, other = SPEC[status]
    return {col for col, mark in zip(COLUMNS, marks, strict=True) if mark == "Y"} | other


CELLS = [(status, action) for status in SPEC for action in ALL_ACTIONS]


@pytest.mark.parametrize(("status", "action"), CELLS)
def test_every_cell(status: str, action: str) -> None:
    situation = RecipientSituation(status=RecipientStatus(status))
    allowed = {a.value for a in allowed_actions(situation)}
    if status == "pending_action":
        # A task offers complete_task, a manual email offers send_manual_email — not both.
        allowed |= {
            a.value
            for t in (StepType.TASK, StepType.MANUAL_EMAIL)
            for a in allowed_actions(
                RecipientSituation(status=RecipientStatus(status), current_step_type=t)
            )
        }
    assert (action in allowed) == (action in expected(status))


def test_every_status_has_a_row() -> None:
    assert set(SPEC) == {s.value for s in RecipientStatus}


def test_pending_action_offers_the_action_that_fits_the_step() -> None:
    task = allowed_actions(
        RecipientSituation(RecipientStatus.PENDING_ACTION, current_step_type=StepType.TASK)
    )
    mail = allowed_actions(
        RecipientSituation(RecipientStatus.PENDING_ACTION, current_step_type=StepType.MANUAL_EMAIL)
    )
    assert Action.COMPLETE_TASK in task and Action.SEND_MANUAL_EMAIL not in task
    assert Action.SEND_MANUAL_EMAIL in mail and Action.COMPLETE_TASK not in mail


@pytest.mark.parametrize("status", ["responded", "meeting_booked"])
def test_stop_on_response_off_keeps_in_progress_actions(status: str) -> None:
    running = RecipientSituation(RecipientStatus(status), stop_on_response=False, steps_left=True)
    assert {a.value for a in allowed_actions(running)} == {
        "pause",
        "skip",
        "edit_content",
        "view_content",
        "stop",
        "delete",
    }
    finished = RecipientSituation(RecipientStatus(status), stop_on_response=False, steps_left=False)
    assert {a.value for a in allowed_actions(finished)} == {"view_content", "delete"}


@pytest.mark.parametrize("status", list(SPEC))
def test_sequence_paused_leaves_only_stop_delete_view(status: str) -> None:
    situation = RecipientSituation(
        RecipientStatus(status), sequence_paused=True, current_step_type=StepType.TASK
    )
    allowed = {a.value for a in allowed_actions(situation)}
    assert allowed == expected(status) & {"stop", "delete", "view_content", "exclude"}


def test_rejection_names_status_and_allowed_actions() -> None:
    with pytest.raises(ActionRejected) as caught:
        check(Action.RESUME, RecipientSituation(RecipientStatus.BOUNCED))
    assert caught.value.status is RecipientStatus.BOUNCED
    assert caught.value.allowed == [Action.VIEW_CONTENT, Action.DELETE]
    assert "bounced" in caught.value.reason


def test_rejection_while_sequence_paused_says_so() -> None:
    with pytest.raises(ActionRejected) as caught:
        check(Action.SKIP, RecipientSituation(RecipientStatus.IN_PROGRESS, sequence_paused=True))
    assert "sequence is paused" in caught.value.reason
