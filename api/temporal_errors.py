"""The one translation of Temporal's answers into problems the API returns.

An update's validator raises `ApplicationError` with a type from workflows.contract: a
rejected action is a 409 naming the status now and what is allowed, an invalid request a 422.
A workflow that does not exist (deleted, or past retention) is a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem, action_rejected, not_found
from workflows import contract


def rejection(exc: WorkflowUpdateFailedError) -> Problem | None:
    """The problem an update's refusal stands for, or None for a failure of another kind."""
    cause = exc.cause
    if not isinstance(cause, ApplicationError):
        return None
    if cause.type == contract.ACTION_REJECTED:
        details = cause.details[0] if cause.details else {}
        return action_rejected(cause.message, **details)
    if cause.type == contract.INVALID_REQUEST:
        return Problem(422, "Invalid request", cause.message)
    return None


@contextmanager
def temporal_problems(what: str) -> Iterator[None]:
    """Inside: a refused update or a workflow that is gone comes out as its problem."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        problem = rejection(exc)
        if problem is None:
            raise
        raise problem from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise not_found(what) from None
        raise
