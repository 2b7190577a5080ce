"""Step content: how an edit merges into what a step had, and which steps may still change.

The recipient workflow (its updates and its content panel), the sequence workflow (a sequence
content edit) and the API's panel all ask these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.statuses import StepState

# A step that has not gone out may change; a sent, skipped or completed one keeps what it had.
_NOT_DONE = frozenset({StepState.PENDING, StepState.FAILED})


def merged(base: Mapping[str, Any], edit: Mapping[str, Any]) -> dict[str, Any]:
    """An edit replaces the fields it names and keeps the others (a subject-only edit keeps
    the body)."""
    return {**base, **{name: value for name, value in edit.items() if value is not None}}


def step_editable(index: int, current_step: int, state: StepState, *, dispatching: bool) -> bool:
    """Future steps always; the current one only while it has not gone out and is not being
    handed over right now (the edit could not reach a message already in flight)."""
    if index > current_step:
        return True
    return index == current_step and state in _NOT_DONE and not dispatching
