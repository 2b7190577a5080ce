"""A recipient's dispatch: start the step's activity, halt it for a pause, skip or stop, and
turn how it ended into the recipient's next state (docs/architecture.md, "the pause barrier").

At most one dispatch runs at a time. A handler that halts it waits until the activity is
cancelled, failed or completed, and learns which: a cancelled one handed nothing over, so the
step is attempted again after the resume.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.dispatch import StepDispatcher
    from domain.failures import FailureCause, NotSentYet
    from domain.recipient import Recipient
    from domain.statuses import DispatchOutcome, StepType
    from workflows.models import DispatchRequest, DispatchResult, RecipientInput

# Cancellation reaches an activity through its heartbeat (throttled to 0.8 × timeout), so a
# short heartbeat timeout keeps "pause during a dispatch" answers quick.
DISPATCH_HEARTBEAT_TIMEOUT = timedelta(seconds=2)
DISPATCH_TIMEOUT = timedelta(minutes=2)
# Ten attempts span about four minutes: a provider blip or a worker swamped by a burst (10,000
# recipients starting at once timed 0.35% of them out five times in a row) is not a person's
# problem; an outage longer than that is, and shows as provider_unavailable.
DISPATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


class RecipientDispatch:
    def __init__(self, recipient: Recipient, input: RecipientInput, wake: Callable[[], None]):
        self._recipient = recipient
        self._input = input
        self._wake = wake
        self._handle: workflow.ActivityHandle[DispatchResult] | None = None
        self._outcome: DispatchOutcome | None = None
        self._halting = 0  # handlers halting a dispatch: the loop must not start another

    @property
    def running(self) -> bool:
        return self._handle is not None

    @property
    def halting(self) -> bool:
        return self._halting > 0

    async def run(self) -> None:
        """Dispatch the current step and apply its outcome to the recipient."""
        recipient = self._recipient
        st = recipient.state
        index = st.current_step
        step = recipient.definition.steps[index]
        channel_type = StepType.EMAIL if step.type is StepType.MANUAL_EMAIL else step.type
        request = DispatchRequest(
            workspace=self._input.workspace,
            sequence_id=self._input.sequence_id,
            recipient_id=self._input.recipient_id,
            step=index,
            type=channel_type,
            content=recipient.content_for(index),
            contact=self._input.contact,
            sender_id=recipient.definition.settings.sender_id,
            dispatch_key=str(st.dispatch_rounds.get(index, 0)),
        )
        self._outcome = None
        self._handle = workflow.start_activity_method(
            StepDispatcher.dispatch_step,
            request,
            start_to_close_timeout=DISPATCH_TIMEOUT,
            heartbeat_timeout=DISPATCH_HEARTBEAT_TIMEOUT,
            retry_policy=DISPATCH_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        try:
            result = await self._handle
        except ActivityError as exc:
            cause = exc.cause
            refusal = NotSentYet.of(cause.type if isinstance(cause, ApplicationError) else None)
            if isinstance(cause, CancelledError):
                # A pause/stop/skip cancelled it before the hand-over; its handler decides.
                self._outcome = DispatchOutcome.CANCELLED
            elif refusal is not None:
                assert isinstance(cause, ApplicationError)
                self._outcome = DispatchOutcome.CANCELLED
                recipient.not_sent_yet(index, refusal, list(cause.details))
            else:
                self._outcome = DispatchOutcome.FAILED
                recipient.fail_step(index, *_failure(exc))
        else:
            self._outcome = DispatchOutcome.COMPLETED
            recipient.step_sent(index, result.message_id, result.already_sent)
        finally:
            self._handle = None
            self._wake()

    @asynccontextmanager
    async def halted(self) -> AsyncIterator[DispatchOutcome | None]:
        """Cancel a dispatch under way, wait until it is cancelled, failed or completed, and
        yield which; no new dispatch starts until the handler's own change is made."""
        self._halting += 1
        try:
            outcome = None
            if self._handle is not None:
                self._handle.cancel()
                await workflow.wait_condition(lambda: self._handle is None)
                outcome = self._outcome
            yield outcome
        finally:
            self._halting -= 1
            self._wake()


def _failure(exc: ActivityError) -> tuple[str, str]:
    """(cause, detail): a business error names its cause; anything else that exhausted the
    retries is the provider being unavailable."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return cause.type, cause.message
    return FailureCause.PROVIDER_UNAVAILABLE.value, str(cause or exc)
