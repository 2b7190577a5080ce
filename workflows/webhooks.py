"""One workflow per webhook endpoint delivers its events, one at a time and in order.

In order per endpoint is what keeps each recipient's events in the order they happened; one
at a time means a failing endpoint holds back only its own deliveries, never another
endpoint's or a recipient's progress. A failed delivery is retried by its activity's retry
policy (exponential back-off, for up to three days by default, across worker and server
restarts); after that the endpoint is disabled with the reason: what was pending waits in the
store until it is enabled again, and new events are not kept for it meanwhile.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookSender
    from workflows import contract
    from workflows.models import (
        BatchRequest,
        DeliverRequest,
        GiveUpRequest,
        PendingRequest,
        WebhookEndpointInput,
    )

WAIT = timedelta(minutes=1)  # a pending-poll answers "none" after this, and we ask again
RUN_LENGTH = 500  # deliveries per run before continue-as-new keeps the history short


@workflow.defn(name="WebhookEndpoint")
class WebhookEndpointWorkflow:
    @workflow.run
    async def run(self, input: WebhookEndpointInput) -> str:
        handled = 0
        while True:
            try:
                pending = await workflow.execute_activity_method(
                    WebhookSender.webhook_pending,
                    PendingRequest(endpoint_id=input.endpoint_id, wait=WAIT),
                    start_to_close_timeout=WAIT + timedelta(seconds=30),
                    heartbeat_timeout=timedelta(seconds=20),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                )
            except ActivityError as exc:
                if _gone(exc):
                    return "the endpoint was deleted or disabled"
                raise
            while pending:
                try:
                    batch = await workflow.execute_activity_method(
                        WebhookSender.webhook_deliver_batch,
                        BatchRequest(
                            endpoint_id=input.endpoint_id,
                            delivery_ids=pending,
                            first_retry=input.first_retry,
                        ),
                        start_to_close_timeout=timedelta(seconds=30) * len(pending),
                        heartbeat_timeout=timedelta(seconds=30),
                        retry_policy=RetryPolicy(
                            maximum_interval=timedelta(seconds=10),
                            non_retryable_error_types=[contract.ENDPOINT_GONE],
                        ),
                    )
                except ActivityError as exc:
                    if _gone(exc):
                        return "the endpoint was deleted or disabled"
                    raise
                handled += batch.delivered
                if batch.failed is None:
                    break
                failed = batch.failed
                await workflow.sleep(input.first_retry)  # its first try failed just now
                given_up = await self._retry(input, failed)
                if given_up is not None:
                    return given_up
                handled += 1
                pending = pending[pending.index(failed) + 1 :]
            if handled >= RUN_LENGTH or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(update={"handled": input.handled + handled})
                )

    async def _retry(self, input: WebhookEndpointInput, delivery_id: int) -> str | None:
        """One delivery on its own, with exponential back-off until it is taken (None) or
        the endpoint gives up on it (why the workflow ends)."""
        try:
            await workflow.execute_activity_method(
                WebhookSender.webhook_deliver,
                DeliverRequest(
                    endpoint_id=input.endpoint_id,
                    delivery_id=delivery_id,
                    first_retry=input.first_retry,
                    max_retry=input.max_retry,
                    tried_before=1,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=input.give_up_after,
                retry_policy=RetryPolicy(
                    initial_interval=input.first_retry * 2,
                    backoff_coefficient=2.0,
                    maximum_interval=input.max_retry,
                    non_retryable_error_types=[contract.ENDPOINT_GONE],
                ),
            )
            return None
        except ActivityError as exc:
            if _gone(exc):
                return "the endpoint was deleted or disabled"
            reason = (
                f"delivery {delivery_id} failed for {input.give_up_after} "
                f"({exc.cause or exc}); enable the endpoint to resume"
            )
            await workflow.execute_activity_method(
                WebhookSender.webhook_give_up,
                GiveUpRequest(
                    endpoint_id=input.endpoint_id, delivery_id=delivery_id, reason=reason
                ),
                start_to_close_timeout=timedelta(seconds=30),
            )
            return "disabled: " + reason


def _gone(exc: ActivityError) -> bool:
    cause = exc.cause
    return isinstance(cause, ApplicationError) and cause.type == contract.ENDPOINT_GONE
