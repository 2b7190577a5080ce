"""The dispatch activity: render a step, claim it in the ledger, hand it to the step's channel.

At most once: the ledger row is claimed before the hand-over and marked after, so a retried
attempt never sends twice, and one that finds an unfinished claim says so (delivery_uncertain)
instead of guessing. Cancellation (a pause) reaches us through heartbeats; cancelled before
the hand-over, the claim is released and the step is attempted again after resume. A hand-over
that has begun is never cut (`finish_once_started`): a cancellation then lands after it, and
what it did (sent, or refused) is what the ledger and the workflow learn. The ledger's own
writes are finished the same way, so no claim is left unowned by a cancellation.

A stopping worker (SIGTERM: it no longer polls, worker.py) begins no new hand-over: a claim it
makes after its shutdown began is given back and the attempt fails as retryable, so another
worker sends the message; hand-overs already under way finish first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.channels import (
    Channel,
    ChannelError,
    OutboundMessage,
    check_phone,
    finish_once_started,
)
from activities.rendering import RenderPool, shared_pool
from domain.failures import FailureCause, NotSentYet
from domain.ids import message_id
from domain.statuses import StepType
from domain.templates import TemplateProblem
from domain.unsubscribe import make_token, unsubscribe_url
from observability import logs, metrics
from store.ledger import Claim, ClaimResult, Ledger, Outbound, next_day
from workflows import contract
from workflows.models import DispatchRequest, DispatchResult

HEARTBEAT_EVERY = 0.5  # seconds; the workflow's heartbeat timeout is 2 s
# A retryable failure: the attempt ran on a stopping worker, which hands nothing over.
WORKER_STOPPING = "worker_stopping"


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Builds the signed one-click unsubscribe link an email carries."""

    public_url: str
    secret: bytes

    def url(self, workspace: str, email: str, recipient_id: str) -> str:
        token = make_token(self.secret, workspace, email, recipient_id)
        return unsubscribe_url(self.public_url, token)


class StepDispatcher:
    def __init__(
        self,
        channels: Mapping[StepType, Channel],
        ledger: Ledger,
        unsubscribe: UnsubscribeLinks | None = None,
        renderer: RenderPool | None = None,
    ) -> None:
        self.channels = channels
        self.ledger = ledger
        self.unsubscribe = unsubscribe
        self.renderer = renderer or shared_pool()

    @activity.defn(name=contract.DISPATCH_STEP)
    async def dispatch_step(self, request: DispatchRequest) -> DispatchResult:
        # Heartbeat from the start: a render or a claim waiting on a busy process or database
        # must not look like a dead worker (a heartbeat timeout would cancel working attempts).
        beating = asyncio.create_task(_heartbeat_forever())
        try:
            with logs.bound(
                workspace=request.workspace,
                sequence_id=request.sequence_id,
                recipient_id=request.recipient_id,
                step=request.step,
            ):
                try:
                    message = await self.prepare(request)
                except (ChannelError, TemplateProblem) as exc:
                    metrics.dispatched(request.type, "invalid", request.workspace)
                    raise _business_error(exc.cause, exc.detail) from None
                return await self._claim_and_send(request, message)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _claim_and_send(
        self, request: DispatchRequest, message: OutboundMessage
    ) -> DispatchResult:
        claim = await self._claim(
            Outbound(
                workspace=request.workspace,
                sequence_id=request.sequence_id,
                recipient_id=request.recipient_id,
                step=request.step,
                dispatch_key=request.dispatch_key,
                channel=message.channel,
                to=message.to,
                subject=message.subject,
                body=message.body,
                message_id=message.message_id,
                sender_id=request.sender_id,
                email=request.contact.email,
            ),
            # The moment of the claim: the server's clock when it is ahead of ours (a
            # time-skipping test server), otherwise ours (an attempt can start long after it
            # was scheduled, and the hand-over grace counts from the real claim).
            now=max(activity.info().current_attempt_scheduled_time, datetime.now(UTC)),
        )
        if claim.claim is not Claim.CLAIMED:
            # already_sent, or a refusal (held, suppressed, sender_capped, …): as it is named
            metrics.dispatched(request.type, claim.claim.value, request.workspace)
        if claim.claim is Claim.ALREADY_SENT:
            return DispatchResult(
                message_id=message.message_id, sent_at=datetime.now(UTC), already_sent=True
            )
        if claim.claim is not Claim.CLAIMED:
            raise _refusal(claim)
        assert claim.row_id is not None
        if claim.from_address:
            message = dataclasses.replace(message, from_address=claim.from_address)
        if activity.is_worker_shutdown():
            # This worker is stopping: leave the hand-over to one that is not.
            metrics.dispatched(request.type, "cancelled", request.workspace)
            await self._finish(claim.row_id, "released")
            raise ApplicationError(
                "the worker is stopping; another worker sends this step",
                type=WORKER_STOPPING,
                category=ApplicationErrorCategory.BENIGN,
            )
        try:
            provider_id = await self.channels[request.type].send(message)
        except ChannelError as exc:
            uncertain = exc.cause == FailureCause.DELIVERY_UNCERTAIN
            state = "uncertain" if uncertain else "failed"
            metrics.dispatched(request.type, state, request.workspace)
            await self._finish(claim.row_id, state)
            raise _business_error(exc.cause, exc.detail) from None
        except asyncio.CancelledError:
            # The channel contract: cancelled means nothing was handed over (see Channel).
            metrics.dispatched(request.type, "cancelled", request.workspace)
            await self._finish(claim.row_id, "released")
            raise
        except Exception:
            # Transient (connection refused, 4xx): nothing was accepted; Temporal retries
            # and the row may be claimed again.
            metrics.dispatched(request.type, "error", request.workspace)
            await self._finish(claim.row_id, "failed")
            raise
        metrics.dispatched(request.type, "sent", request.workspace)
        await self._finish(claim.row_id, "sent", provider_id)
        activity.logger.info("step %s sent as %s", request.step, provider_id)
        return DispatchResult(message_id=message.message_id, sent_at=datetime.now(UTC))

    async def _claim(self, out: Outbound, now: datetime) -> ClaimResult:
        """Claim, and if we are cancelled meanwhile (a timed-out attempt on a busy worker),
        let the claim finish and give it back: a claim nobody owns would turn the retry's
        verdict into "uncertain" for a message that never left."""
        task = asyncio.ensure_future(self.ledger.claim(out, now=now))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            claim = await finish_once_started(task)
            if claim.claim is Claim.CLAIMED and claim.row_id is not None:
                await self._finish(claim.row_id, "released")
            raise

    async def _finish(self, row_id: int, state: str, provider_id: str | None = None) -> None:
        """Record how the claim ended, even if we are cancelled meanwhile (a pause and a
        stopping worker's deadline can both arrive): a claim left `claimed` would make the
        next attempt wait out the hand-over grace and then call it uncertain."""
        await finish_once_started(self.ledger.finish(row_id, state, provider_id))

    async def prepare(self, request: DispatchRequest) -> OutboundMessage:
        contact = request.contact
        templates = {"body": request.content.body or ""}
        if request.content.subject:
            templates["subject"] = request.content.subject
        rendered = await self.renderer.render(
            templates, contact.template_context(), tenant=request.workspace
        )
        body, subject = rendered["body"], rendered.get("subject")
        unsubscribe_url = None
        if request.type is StepType.EMAIL:
            if not contact.email:
                raise ChannelError(FailureCause.MISSING_EMAIL, "the contact has no email address")
            to = contact.email
            if self.unsubscribe:
                unsubscribe_url = self.unsubscribe.url(
                    request.workspace, contact.email, request.recipient_id
                )
        elif request.type is StepType.SMS:
            to = check_phone(contact.phone)
        elif request.type is StepType.LINKEDIN:
            if not contact.linkedin_url:
                raise ChannelError(
                    FailureCause.MISSING_LINKEDIN_URL, "the contact has no LinkedIn URL"
                )
            to = contact.linkedin_url
        else:
            raise ChannelError(
                FailureCause.PROVIDER_REJECTED, f"{request.type} steps are not dispatched"
            )
        return OutboundMessage(
            channel=request.type.value,
            to=to,
            body=body,
            subject=subject,
            message_id=message_id(request.recipient_id, request.step),
            headers={
                "X-Seqflow-Recipient": request.recipient_id,
                "X-Seqflow-Step": str(request.step),
            },
            unsubscribe_url=unsubscribe_url,
        )


async def _heartbeat_forever() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)


def _business_error(cause: FailureCause, detail: str) -> ApplicationError:
    # Non-retryable: a person has to act (docs/errors.md); the workflow shows cause and fix.
    return ApplicationError(detail, type=str(cause), non_retryable=True)


def _not_sent_yet(refusal: NotSentYet, detail: str, *details: object) -> ApplicationError:
    # Non-retryable: not a failure; the workflow decides what the refusal means.
    return ApplicationError(detail, *details, type=refusal.value, non_retryable=True)


def _refusal(claim: ClaimResult) -> ApplicationError:
    now = activity.info().current_attempt_scheduled_time
    if claim.claim is Claim.IN_PROGRESS:
        # Retryable: the next attempt sees whether the earlier one sent it or gave it back.
        return ApplicationError(
            "an earlier attempt is still handing this message over",
            type="claim_in_progress",
            next_retry_delay=claim.retry_after,
        )
    if claim.claim is Claim.UNCERTAIN:
        return _business_error(
            FailureCause.DELIVERY_UNCERTAIN,
            "an earlier attempt stopped mid-send; it may have gone out",
        )
    if claim.claim is Claim.SENDER_DISCONNECTED:
        return _business_error(
            FailureCause.SENDER_DISCONNECTED, "the sequence's sender is disconnected"
        )
    if claim.claim is Claim.SENDER_CHANGED:
        return _not_sent_yet(
            NotSentYet.SENDER_CHANGED, "the sequence's sender changed", claim.sender_id
        )
    if claim.claim is Claim.SENDER_CAPPED:
        return _not_sent_yet(
            NotSentYet.SENDER_CAPPED, "the sender reached its daily cap", next_day(now).isoformat()
        )
    if claim.claim is Claim.SENDER_AWAY:
        return _not_sent_yet(NotSentYet.SENDER_AWAY, "the sender is on vacation", claim.vacations)
    if claim.claim is Claim.HELD:
        return _not_sent_yet(NotSentYet.HELD, "a pause is on its way to the recipient")
    if claim.claim is Claim.SUPPRESSED:
        return _not_sent_yet(NotSentYet.SUPPRESSED, "the address is on the suppression list")
    # A claim this code does not know (a newer ledger): retryable, never a guess.
    return ApplicationError(f"unexpected ledger answer {claim.claim.value}", type="claim_unknown")
