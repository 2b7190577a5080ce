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
from activities.pacing import CEILING, TOLERANCE
from activities.projection import StoreProjector
from activities.rendering import shared_pool
from activities.webhooks import WebhookSender
from domain.statuses import StepType
from observability import logs, metrics, tracing
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

# How often at most an activity's heartbeat reaches the server. A fan-out's progress is its
# heartbeat (activities/fanout.py); by default the SDK sends one per 0.8 x the heartbeat timeout
# (24 s for a fan-out), so a worker killed in a fan-out's first 24 s left no progress and the
# next attempt started over. Every 2 s, another worker carries on from about where it died.
HEARTBEAT_THROTTLE = timedelta(seconds=2)

# Pure libraries the workflows use (templates for content previews, pydantic models) are
# passed through the sandbox whole: they are deterministic and re-importing them per run is slow.
# OpenTelemetry too: with tracing on, the SDK's workflow interceptor keeps its context there
# (re-imported, its context would not be the one the worker's spans are made in, and its
# SDK reads the environment, which the sandbox forbids).
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "jinja2", "markupsafe", "pydantic", "isodate", "holidays", "domain", "opentelemetry"
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
    fan_out_concurrency: int = CEILING,
    fan_out_latency_tolerance: float = TOLERANCE,
    shutdown_grace: timedelta = timedelta(seconds=10),
) -> Worker:
    dispatcher = StepDispatcher(channels, Ledger(store), unsubscribe)
    projector = StoreProjector(store)
    fan_out = SequenceFanOut(client, store, fan_out_concurrency, fan_out_latency_tolerance)
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
        # On shutdown the SDK stops polling at once, waits this long for running activities,
        # then cancels them; a send already in its hand-over is finished even so
        # (activities/channels.py, finish_once_started).
        graceful_shutdown_timeout=shutdown_grace,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
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
    # Tracing (off unless SEQFLOW_OTLP_ENDPOINT is set): on the client, so the worker built on
    # it runs workflows and activities in the traces that started them.
    traces = tracing.configure("worker", settings)
    client = await connect_client(
        settings, runtime=runtime, interceptors=tracing.interceptors(traces)
    )
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
        fan_out_concurrency=settings.fan_out_concurrency,
        fan_out_latency_tolerance=settings.fan_out_latency_tolerance,
        shutdown_grace=settings.worker_shutdown_grace(),
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
        log.info(
            "shutting down: polling stops; running activities have %.0f s to finish",
            settings.worker_shutdown_grace().total_seconds(),
        )
    log.info("stopped: every activity finished or was handed back")
    await store.close()
    if traces is not None:
        traces.shutdown()  # the spans still batched are exported


if __name__ == "__main__":
    asyncio.run(main())
