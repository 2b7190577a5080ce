"""Outbound webhooks (docs/webhooks.md): endpoints a host application registers, the events
they receive, signed per Standard Webhooks, and the log of every delivery attempt.

An endpoint's deliveries are made by its own workflow (workflows/webhooks.py), started here
when the endpoint is created or enabled again.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from temporalio.service import RPCError

from api.deps import Caller, CallerDep, ClientDep, SettingsDep, StoreDep
from api.problems import Problem, invalid, not_found
from api.schemas import (
    DeliveryAttemptOut,
    DeliveryOut,
    DeliveryPage,
    WebhookCreate,
    WebhookPage,
    WebhookPublic,
    WebhookUpdate,
)
from api.temporal_errors import within_deadline
from domain.ids import Prefix
from domain.outbound import EventType, OutboundEvent
from domain.webhook_urls import url_problem
from settings import Settings
from store.db import Store, as_utc
from store.ids import new_id
from store.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow
from store.webhooks import Webhooks, types_of
from workflows.contract import webhook_workflow_id
from workflows.launch import start_deliverer

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _public(row: WebhookEndpointRow, *, secret: bool = False) -> WebhookPublic:
    until = row.previous_until
    return WebhookPublic(
        id=row.id,
        url=row.url,
        events=types_of(row),
        description=row.description,
        per_recipient_sequence_events=row.per_recipient,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=as_utc(row.created_at),
        secret=row.secret if secret else None,
        previous_secret_signs_until=(
            as_utc(until) if until and as_utc(until) > datetime.now(UTC) else None
        ),
    )


def _refuse_url(url: str, settings: Settings) -> None:
    problem = url_problem(url, dev_mode=settings.dev_mode)
    if problem:
        raise invalid([{"loc": ("body", "url"), "msg": problem}])


def _refuse_disabled(row: WebhookEndpointRow) -> None:
    if not row.enabled:
        raise Problem(409, "Endpoint disabled", "enable it first (PATCH enabled: true)")


async def _endpoint(store: Store, caller: Caller, webhook_id: str) -> WebhookEndpointRow:
    row = await Webhooks(store).get(caller.workspace, webhook_id)
    if row is None:
        raise not_found(f"webhook {webhook_id}")
    return row


async def _start_deliverer(
    client: ClientDep, settings: Settings, workspace: str, webhook_id: str
) -> None:
    async with within_deadline(f"webhook {webhook_id}"):
        await start_deliverer(client, settings, workspace, webhook_id)


@router.post("", status_code=201, response_model=WebhookPublic)
async def create(
    body: WebhookCreate,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
) -> WebhookPublic:
    """The secret is in this answer only (and in rotate-secret's): keep it."""
    _refuse_url(body.url, settings)
    webhooks = Webhooks(store)
    row = await webhooks.create(
        caller.workspace,
        body.url,
        body.events,
        body.description,
        body.per_recipient_sequence_events,
    )
    try:
        await _start_deliverer(client, settings, caller.workspace, row.id)
    except BaseException:
        await webhooks.delete(row.id)  # never half-created: no endpoint nobody delivers to
        raise
    return _public(row, secret=True)


@router.get("", response_model=WebhookPage)
async def list_all(caller: CallerDep, store: StoreDep) -> WebhookPage:
    return WebhookPage(items=[_public(row) for row in await Webhooks(store).all(caller.workspace)])


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def get(webhook_id: str, caller: CallerDep, store: StoreDep) -> WebhookPublic:
    return _public(await _endpoint(store, caller, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookPublic)
async def change(
    webhook_id: str,
    body: WebhookUpdate,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
) -> WebhookPublic:
    """`enabled: true` starts delivering again, from the oldest event still pending."""
    await _endpoint(store, caller, webhook_id)
    if body.url is not None:
        _refuse_url(body.url, settings)
    webhooks = Webhooks(store)
    await webhooks.change(
        webhook_id,
        url=body.url,
        types=body.events,
        description=body.description,
        per_recipient=body.per_recipient_sequence_events,
        enabled=body.enabled,
    )
    if body.enabled:
        await _start_deliverer(client, settings, caller.workspace, webhook_id)
    return _public(await _endpoint(store, caller, webhook_id))


@router.delete("/{webhook_id}", status_code=204)
async def remove(
    webhook_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> Response:
    """The endpoint and its delivery log; its deliverer stops (at once, or at its next look)."""
    await _endpoint(store, caller, webhook_id)
    await Webhooks(store).delete(webhook_id)
    handle = client.get_workflow_handle(webhook_workflow_id(caller.workspace, webhook_id))
    with contextlib.suppress(RPCError, TimeoutError):
        async with within_deadline(f"webhook {webhook_id}"):
            await handle.terminate("endpoint deleted")
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookPublic)
async def rotate_secret(webhook_id: str, caller: CallerDep, store: StoreDep) -> WebhookPublic:
    """A new secret; for 24 hours every delivery is signed with both (two `v1,` signatures),
    time to deploy the new one."""
    await _endpoint(store, caller, webhook_id)
    await Webhooks(store).rotate(webhook_id)
    return _public(await _endpoint(store, caller, webhook_id), secret=True)


@router.post("/{webhook_id}/test", status_code=202, response_model=DeliveryOut)
async def test(webhook_id: str, caller: CallerDep, store: StoreDep) -> DeliveryOut:
    """Sends a `ping` (whatever the endpoint subscribed to); follow it in the deliveries."""
    row = await _endpoint(store, caller, webhook_id)
    _refuse_disabled(row)
    webhooks = Webhooks(store)
    event = OutboundEvent(
        id=new_id(Prefix.EVENT),
        type=EventType.PING,
        at=datetime.now(UTC),
        data={"webhook_id": webhook_id},
    )
    delivery_id = await webhooks.ping(webhook_id, event)
    found = await webhooks.delivery(webhook_id, delivery_id)
    assert found is not None
    return _delivery(found, [])


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
async def deliveries(
    webhook_id: str,
    caller: CallerDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None,
) -> DeliveryPage:
    """Newest first, each with every attempt (status code, duration, error)."""
    await _endpoint(store, caller, webhook_id)
    found = await Webhooks(store).deliveries(webhook_id, limit + 1, int(cursor) if cursor else None)
    shown = found[:limit]
    return DeliveryPage(
        items=[_delivery(row, attempts) for row, attempts in shown],
        next_cursor=str(shown[-1][0].id) if len(found) > limit else None,
    )


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
async def retry(
    webhook_id: str,
    delivery_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
) -> DeliveryOut:
    """Deliver it again (same webhook-id), after the endpoint's pending ones before it."""
    row = await _endpoint(store, caller, webhook_id)
    _refuse_disabled(row)
    webhooks = Webhooks(store)
    if not await webhooks.requeue(webhook_id, delivery_id):
        raise not_found(f"delivery {delivery_id}")
    await _start_deliverer(client, settings, caller.workspace, webhook_id)
    found = await webhooks.delivery(webhook_id, delivery_id)
    assert found is not None
    return _delivery(found, [])


def _delivery(row: WebhookDeliveryRow, attempts: list[WebhookAttemptRow]) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        message_id=row.message_id,
        type=row.type,
        state=row.state,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        next_attempt_at=as_utc(row.next_attempt_at) if row.next_attempt_at else None,
        created_at=as_utc(row.created_at),
        delivered_at=as_utc(row.delivered_at) if row.delivered_at else None,
        attempt_log=[
            DeliveryAttemptOut(
                at=as_utc(a.at), status_code=a.status_code, duration_ms=a.duration_ms, error=a.error
            )
            for a in attempts
        ],
    )
