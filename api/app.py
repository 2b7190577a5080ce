"""The FastAPI app: one Temporal client and one store for the process, problem+json errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
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
from settings import Settings, get_settings
from store.db import Store
from store.migrate import upgrade_to_head
from workflows.client import connect_client


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
        app.state.client = client or await connect_client(settings)
        await app.state.renderer.start()
        yield
        if owned_store:
            await app.state.store.close()

    app = FastAPI(
        title="seqflow",
        version="1",
        summary="Pausable outreach sequences",
        lifespan=lifespan,
    )
    app.state.settings = settings
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
    console.install(app)  # last: its routes never shadow the API's
    if settings.dev_mode:
        from api.routes import dev  # only in `make run`: lists what the local SMTP sink got

        app.include_router(dev.router)
    return app
