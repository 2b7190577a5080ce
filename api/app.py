"""The FastAPI app: one Temporal client and one store for the process, problem+json errors."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from temporalio.client import Client

from activities.rendering import shared_pool
from api import problems, temporal_errors
from api.routes import (
    contacts,
    events,
    health,
    inbound_endpoints,
    recipient_bulk,
    recipients,
    senders,
    sequences,
    suppressions,
    unsubscribe,
    webhooks,
)
from console import app as console
from observability import metrics, tracing
from observability.http import RequestObserver
from settings import Settings, get_settings
from store.db import Store
from store.ledger import Ledger
from store.migrate import upgrade_to_head
from workflows.client import connect_client

log = logging.getLogger("seqflow.api")

# The ledger's uncertain count is read when /metrics is scraped, at most this often (seconds).
LEDGER_COUNT_EVERY = 10.0


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    store: Store | None = None,
) -> FastAPI:
    """Tests pass their own client and store; production connects from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_store = store is None
        if store is None:
            await upgrade_to_head(settings.database_url)
        app.state.store = store or Store.connect(settings.database_url)
        app.state.client = client or await connect_client(
            settings, interceptors=tracing.interceptors(traces)
        )
        await app.state.renderer.start()
        yield
        if owned_store:
            await app.state.store.close()
        if traces is not None:
            traces.shutdown()  # the spans still batched are exported

    # Tracing (off unless SEQFLOW_OTLP_ENDPOINT is set): each request a span, parent of the
    # Temporal calls made while answering it (by the client the lifespan connects).
    traces = tracing.configure("api", settings)
    app = FastAPI(
        title="seqflow",
        version="1",
        summary="Pausable outreach sequences",
        lifespan=lifespan,
        telemetry=tracing.api_telemetry(traces),
    )
    app.state.settings = settings
    app.state.tracing = traces
    app.state.renderer = shared_pool()
    if client is not None and store is not None:
        # Injected (tests): usable without running the lifespan.
        app.state.client, app.state.store = client, store
    app.state.api_keys = settings.api_key_owners()
    problems.install(app)
    problems.document(app)
    temporal_errors.install(app)
    app.include_router(health.router)
    app.include_router(sequences.bulk_router)
    app.include_router(sequences.router)
    app.include_router(recipient_bulk.router)
    app.include_router(recipients.router)
    app.include_router(suppressions.router)
    app.include_router(senders.router)
    app.include_router(unsubscribe.router)
    app.include_router(events.router)
    app.include_router(contacts.router)
    app.include_router(inbound_endpoints.router)
    app.include_router(webhooks.router)
    app.add_middleware(RequestObserver)
    app.state.ledger_counted_at = None

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Response:
        """Prometheus' scrape (docs/observability.md): unauthenticated, like /healthz; keep
        it off the public internet (it names workspaces and routes, never recipients)."""
        await _count_uncertain(request.app)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    console.install(app)  # last: its routes never shadow the API's
    if settings.dev_mode:
        from api.routes import dev  # only in `make run`: lists what the local SMTP sink got

        app.include_router(dev.router)
    return app


async def _count_uncertain(app: FastAPI) -> None:
    """The ledger's uncertain deliveries, counted now unless counted a moment ago; a store
    that does not answer leaves the last count (and says so) rather than failing the scrape."""
    now = time.monotonic()
    counted_at = app.state.ledger_counted_at
    if counted_at is not None and now - counted_at < LEDGER_COUNT_EVERY:
        return
    app.state.ledger_counted_at = now
    try:
        metrics.ledger_uncertain(await Ledger(app.state.store).uncertain_count())
    except Exception as exc:
        log.warning("metrics: the ledger's uncertain count is not available: %s", exc)
