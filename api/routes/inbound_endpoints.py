"""A provider's own inbound endpoint: it holds no API key, it signs its posts.

`POST /v1/inbound-endpoints` gives a URL and a secret; the provider posts the same bodies as
/v1/events/* to `{url}/replies|bounces|unsubscribes|meetings`, signed per domain.signatures.
A post with a missing, wrong or stale signature is a 401 and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from api.deps import Caller, CallerDep, ClientDep, SettingsDep, StoreDep
from api.problems import Problem, invalid, not_found
from api.routes import events
from api.schemas import (
    BounceIn,
    EventAnswer,
    InboundEndpointCreate,
    InboundEndpointPage,
    InboundEndpointPublic,
    MeetingIn,
    ReplyIn,
    UnsubscribeIn,
)
from domain.signatures import SignatureRefused, verify
from settings import Settings
from store.db import as_utc
from store.inbound import InboundEndpoints, secrets_of
from store.tables import InboundEndpointRow

router = APIRouter(tags=["inbound endpoints"])

_KINDS: dict[str, tuple[type[BaseModel], Callable[..., Awaitable[EventAnswer]]]] = {
    "replies": (ReplyIn, events.reply),
    "bounces": (BounceIn, events.bounce),
    "unsubscribes": (UnsubscribeIn, events.unsubscribe),
    "meetings": (MeetingIn, events.meeting),
}


def _public(row: InboundEndpointRow, settings: Settings, **shown: Any) -> InboundEndpointPublic:
    return InboundEndpointPublic(
        id=row.id,
        description=row.description,
        url=f"{settings.public_url.rstrip('/')}/v1/inbound/{row.id}",
        created_at=as_utc(row.created_at),
        **shown,
    )


@router.post("/v1/inbound-endpoints", status_code=201, response_model=InboundEndpointPublic)
async def create(
    body: InboundEndpointCreate, caller: CallerDep, store: StoreDep, settings: SettingsDep
) -> InboundEndpointPublic:
    row = await InboundEndpoints(store).create(caller.workspace, body.description)
    return _public(row, settings, secret=row.secret)


@router.get("/v1/inbound-endpoints", response_model=InboundEndpointPage)
async def list_all(
    caller: CallerDep, store: StoreDep, settings: SettingsDep
) -> InboundEndpointPage:
    rows = await InboundEndpoints(store).all(caller.workspace)
    return InboundEndpointPage(items=[_public(row, settings) for row in rows])


@router.post(
    "/v1/inbound-endpoints/{endpoint_id}/rotate-secret", response_model=InboundEndpointPublic
)
async def rotate_secret(
    endpoint_id: str, caller: CallerDep, store: StoreDep, settings: SettingsDep
) -> InboundEndpointPublic:
    """A new secret; the old one keeps verifying for 24 hours, time to update the provider."""
    endpoints = InboundEndpoints(store)
    if await endpoints.get(endpoint_id, caller.workspace) is None:
        raise not_found(f"inbound endpoint {endpoint_id}")
    row = await endpoints.rotate(endpoint_id)
    assert row is not None and row.previous_until is not None
    return _public(
        row, settings, secret=row.secret, previous_secret_valid_until=as_utc(row.previous_until)
    )


@router.delete("/v1/inbound-endpoints/{endpoint_id}")
async def delete(endpoint_id: str, caller: CallerDep, store: StoreDep) -> dict[str, str]:
    endpoints = InboundEndpoints(store)
    if await endpoints.get(endpoint_id, caller.workspace) is None:
        raise not_found(f"inbound endpoint {endpoint_id}")
    await endpoints.delete(endpoint_id)
    return {"id": endpoint_id, "status": "deleted"}


@router.post("/v1/inbound/{endpoint_id}/{kind}", response_model=EventAnswer)
async def provider_event(
    endpoint_id: str, kind: str, request: Request, client: ClientDep, store: StoreDep
) -> EventAnswer:
    """What /v1/events/{kind} does, for the endpoint's workspace, once the signature holds."""
    if kind not in _KINDS:
        raise Problem(
            404, "Not found", f"unknown event kind {kind!r}; kinds are {', '.join(_KINDS)}"
        )
    row = await InboundEndpoints(store).get(endpoint_id)
    if row is None:
        raise not_found(f"inbound endpoint {endpoint_id}")
    raw = await request.body()
    try:
        verify(
            secrets_of(row, datetime.now(UTC)),
            request.headers.get("Seqflow-Timestamp"),
            request.headers.get("Seqflow-Signature"),
            raw,
            time.time(),
        )
    except SignatureRefused as refused:
        raise Problem(401, "Unauthorized", f"signature refused: {refused}") from None
    model, handle = _KINDS[kind]
    try:
        body = model.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid(exc.errors()) from None
    caller = Caller(workspace=row.workspace, actor=f"inbound-endpoint:{row.id}")
    return await handle(body, caller, client, store)
