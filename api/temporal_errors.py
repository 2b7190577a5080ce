"""The one translation of Temporal's answers into problems the API returns.

An update's validator raises `ApplicationError` with a type from workflows.contract: a
rejected action is a 409 naming the status now and what is allowed, an invalid request a 422.
A workflow that does not exist (deleted, or past retention) is a 404. A Temporal that does not
answer within `DEADLINE` is an outage: a 503 with Retry-After, never a hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem, action_rejected, not_found, problem_response, unavailable
from workflows import contract

# A Temporal call (a query, a start, a signal, an update's acceptance) answers in milliseconds;
# one that has not answered by then will not answer soon.
DEADLINE = 4.0
# How long an accepted update may take to finish (a pause halting a dispatch, a manual email
# sent now) before the API answers with the state as it is.
UPDATE_DEADLINE = 40.0
_OUTAGE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,
    }
)


def is_outage(exc: BaseException) -> bool:
    # (The SDK turns a deadline met while waiting for an update into its own error.)
    return isinstance(exc, TimeoutError | WorkflowUpdateRPCTimeoutOrCancelledError) or (
        isinstance(exc, RPCError) and exc.status in _OUTAGE
    )


def outage(what: str) -> Problem:
    return unavailable(
        f"{what} could not be reached in time (the workflow service is not answering); "
        "nothing is lost: retry, or read it back first"
    )


@asynccontextmanager
async def within_deadline(what: str, seconds: float = DEADLINE) -> AsyncIterator[None]:
    """Inside: Temporal answers within `seconds`, or the request is a 503 about `what`."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except (TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        if not is_outage(exc):
            raise
        raise outage(what) from None


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
def rejections_as_problems() -> Iterator[None]:
    """Inside: an update its validator refused comes out as its problem (409 or 422)."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        problem = rejection(exc)
        if problem is None:
            raise
        raise problem from None


@contextmanager
def temporal_problems(what: str) -> Iterator[None]:
    """Inside: a refused update or a workflow that is gone comes out as its problem."""
    try:
        with rejections_as_problems():
            yield
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise not_found(what) from None
        raise


def install(app: FastAPI) -> None:
    """Whatever Temporal call no route wrapped: an outage is a 503, never a bare 500."""

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> JSONResponse:
        if is_outage(exc):
            return problem_response(outage("the workflow service"))
        return problem_response(Problem(502, "Bad gateway", f"the workflow service: {exc}"))
