"""The dispatch activity: render a step for its recipient and hand it to the step's channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import Channel, ChannelError, OutboundMessage, check_phone
from domain.statuses import StepType
from domain.templates import TemplateProblem, render
from workflows.models import DispatchRequest, DispatchResult

HEARTBEAT_EVERY = 0.5  # seconds; the workflow's heartbeat timeout is 2 s


def message_id(request: DispatchRequest, domain: str = "seqflow") -> str:
    """Stable per recipient × step, so replies can be matched and retries recognised."""
    return f"<{request.recipient_id}.{request.step}@{domain}>"


class StepDispatcher:
    def __init__(self, channels: Mapping[StepType, Channel]) -> None:
        self.channels = channels

    @activity.defn(name="dispatch_step")
    async def dispatch_step(self, request: DispatchRequest) -> DispatchResult:
        try:
            message = self.prepare(request)
        except (ChannelError, TemplateProblem) as exc:
            raise _business_error(exc.cause, exc.detail) from None
        channel = self.channels[request.type]
        # Heartbeats carry cancellation: a pause interrupts us here, before the hand-over ends.
        beating = asyncio.create_task(_heartbeat_forever())
        try:
            provider_id = await channel.send(message)
        except ChannelError as exc:
            raise _business_error(exc.cause, exc.detail) from None
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        activity.logger.info("step %s sent as %s", request.step, provider_id)
        return DispatchResult(message_id=message.message_id, sent_at=datetime.now(UTC))

    def prepare(self, request: DispatchRequest) -> OutboundMessage:
        contact = request.contact
        context = contact.template_context()
        body = render(request.content.body or "", context)
        subject = render(request.content.subject, context) if request.content.subject else None
        if request.type is StepType.EMAIL:
            if not contact.email:
                raise ChannelError("missing_email", "the contact has no email address")
            to = contact.email
        elif request.type is StepType.SMS:
            to = check_phone(contact.phone)
        elif request.type is StepType.LINKEDIN:
            if not contact.linkedin_url:
                raise ChannelError("missing_linkedin_url", "the contact has no LinkedIn URL")
            to = contact.linkedin_url
        else:
            raise ChannelError("provider_rejected", f"{request.type} steps are not dispatched")
        return OutboundMessage(
            channel=request.type.value,
            to=to,
            body=body,
            subject=subject,
            message_id=message_id(request),
            headers={
                "X-Seqflow-Recipient": request.recipient_id,
                "X-Seqflow-Step": str(request.step),
            },
        )


async def _heartbeat_forever() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)


def _business_error(cause: str, detail: str) -> ApplicationError:
    # Non-retryable: a person has to act (PRODUCT.md §6); the workflow shows cause and fix.
    return ApplicationError(detail, type=cause, non_retryable=True)
