"""The worker: runs recipient and sequence workflows and their activities.

`python -m worker` reads settings from the environment; tests call `build_worker` with their
own client, task queue, store and channels.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.bulk import RecipientBulkHolds
from activities.channels import Channel, HttpProviderChannel, OutboxChannel, SmtpEmailChannel
from activities.dispatch import StepDispatcher, UnsubscribeLinks
from activities.fanout import SequenceFanOut
from activities.projection import StoreProjector
from activities.rendering import shared_pool
from activities.webhooks import WebhookSender
from domain.statuses import StepType
from observability import logs, metrics
from settings import Settings, get_settings
from store.db import Store
from store.ledger import Ledger
from store.migrate import upgrade_to_head
from store.webhooks import Webhooks
from workflows.bulk import RecipientBulkWorkflow
from workflows.client import connect_client
from workflows.launch import start_deliverer
from workflows.recipient import RecipientWorkflow
from workflows.sequence import SequenceWorkflow
from workflows.webhooks import WebhookEndpointWorkflow

log = logging.getLogger("seqflow.worker")

WORKFLOWS = [RecipientWorkflow, SequenceWorkflow, WebhookEndpointWorkflow, RecipientBulkWorkflow]

# Pure libraries the workflows use (templates for content previews, pydantic models) are
# passed through the sandbox whole: they are deterministic and re-importing them per run is slow.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "jinja2", "markupsafe", "pydantic", "isodate", "holidays", "domain"
    )
)


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """The sandbox catches a workflow that reaches for I/O, clocks or randomness, so tests run
    every workflow in it. Without it the module is imported once, not per instance: an evicted
    recipient replays in about half the CPU (`python -m bench.replay_cost`)."""
    return SANDBOX if sandboxed else UnsandboxedWorkflowRunner()


def default_channels(settings: Settings) -> dict[StepType, Channel]:
    email = SmtpEmailChannel(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_from,
        timeout=settings.smtp_timeout.total_seconds(),
    )
    provider: Channel
    if settings.provider_url:
        provider = HttpProviderChannel(
            settings.provider_url, settings.provider_token.get_secret_value()
        )
    else:
        provider = OutboxChannel(settings.outbox_dir)
    return {StepType.EMAIL: email, StepType.SMS: provider, StepType.LINKEDIN: provider}


def build_worker(
    client: Client,
    *,
    task_queue: str,
    store: Store,
    channels: Mapping[StepType, Channel],
    max_cached_workflows: int = 2000,
    unsubscribe: UnsubscribeLinks | None = None,
    sandboxed: bool = True,
    dev_mode: bool = False,
    webhook_poll: timedelta = timedelta(seconds=0.5),
) -> Worker:
    dispatcher = StepDispatcher(channels, Ledger(store), unsubscribe)
    projector = StoreProjector(store)
    fan_out = SequenceFanOut(client, store)
    bulk = RecipientBulkHolds(client, store)
    # dev_mode: webhooks may go to http://127.0.0.1 (a receiver on this machine).
    webhooks = WebhookSender(Webhooks(store), dev_mode=dev_mode, poll=webhook_poll)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(sandboxed),
        activities=[
            dispatcher.dispatch_step,
            projector.project_recipient,
            projector.read_sequence_state,
            projector.read_starting_holds,
            fan_out.fan_out_sequence_state,
            bulk.apply_bulk_hold,
            webhooks.webhook_pending,
            webhooks.webhook_deliver,
            webhooks.webhook_deliver_batch,
            webhooks.webhook_give_up,
        ],
        max_cached_workflows=max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def start_deliverers(client: Client, store: Store, settings: Settings) -> None:
    """Every enabled webhook endpoint has its deliverer running (one already running is left
    as it is): an endpoint enabled again just as its old deliverer ended is not left idle."""
    for endpoint in await Webhooks(store).enabled():
        try:
            await start_deliverer(client, settings, endpoint.workspace, endpoint.id)
        except RPCError as exc:
            log.warning("webhook %s: deliverer not started: %s", endpoint.id, exc)


async def main() -> None:
    settings = get_settings()
    logs.configure("worker", dev_mode=settings.dev_mode)
    settings.refuse_unsafe_production()
    await upgrade_to_head(settings.database_url)
    store = Store.connect(settings.database_url)
    # Two metrics ports: the SDK's, served by its core from this runtime, and seqflow's own
    # (prometheus_client); observability/metrics.py says why.
    runtime = metrics.temporal_runtime(settings.worker_sdk_metrics_port, settings.metrics_host)
    client = await connect_client(settings, runtime=runtime)
    metrics.serve(settings.worker_metrics_port, settings.metrics_host)
    worker = build_worker(
        client,
        task_queue=settings.task_queue,
        store=store,
        channels=default_channels(settings),
        max_cached_workflows=settings.max_cached_workflows,
        unsubscribe=UnsubscribeLinks(settings.public_url, settings.token_secret_bytes()),
        sandboxed=settings.workflow_sandbox,
        dev_mode=settings.dev_mode,
        webhook_poll=settings.webhook_poll,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "polling task queue %s on %s (workflow sandbox %s, cache %d)",
        settings.task_queue,
        settings.temporal_address,
        "on" if settings.workflow_sandbox else "off",
        settings.max_cached_workflows,
    )
    await shared_pool().start()
    await start_deliverers(client, store, settings)
    async with worker:
        await stop.wait()
        log.info("shutting down: finishing running activities")
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
