"""Sender accounts: connect and disconnect. Reconnecting retries the recipients that erred on it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api import recipient_calls as calls
from api.deps import CallerDep, ClientDep, StoreDep
from api.problems import Problem, not_found
from api.schemas import SenderCreate, SenderPublic, SenderUpdate
from domain.statuses import Action
from store.accounts import Accounts
from store.tables import SenderRow
from workflows.models import ActionRequest

router = APIRouter(prefix="/v1/senders", tags=["senders"])

RETRY_CONCURRENCY = 16


def _public(row: SenderRow) -> SenderPublic:
    return SenderPublic(
        id=row.id,
        name=row.name,
        email=row.email,
        status=row.status,
        daily_cap=row.daily_cap,
        created_at=row.created_at,
    )


@router.post("", status_code=201, response_model=SenderPublic)
async def create(body: SenderCreate, caller: CallerDep, store: StoreDep) -> SenderPublic:
    row = await Accounts(store).create_sender(
        caller.workspace, body.name, str(body.email), body.daily_cap
    )
    return _public(row)


@router.get("", response_model=list[SenderPublic])
async def list_all(caller: CallerDep, store: StoreDep) -> list[SenderPublic]:
    return [_public(row) for row in await Accounts(store).senders(caller.workspace)]


@router.patch("/{sender_id}", response_model=SenderPublic)
async def change(
    sender_id: str, body: SenderUpdate, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SenderPublic:
    accounts = Accounts(store)
    row = await accounts.sender(caller.workspace, sender_id)
    if row is None:
        raise not_found(f"sender {sender_id}")
    values = body.model_dump(exclude_none=True)
    if not values:
        raise Problem(422, "Invalid request", "send status and/or daily_cap")
    await accounts.update_sender(sender_id, **values)
    retried = 0
    if body.status == "connected" and row.status != "connected":
        # Reconnecting retries every recipient that erred because this sender was down.
        erred = await accounts.erred_on_sender(caller.workspace, sender_id)
        gate = asyncio.Semaphore(RETRY_CONCURRENCY)

        async def retry(recipient_id: str, sequence_id: str) -> bool:
            handle = calls.handle_for(client, caller.workspace, sequence_id, recipient_id)
            async with gate:
                try:
                    await calls.act(handle, Action.RETRY, ActionRequest(actor=caller.actor))
                except Problem:
                    return False  # it moved on meanwhile (stopped, skipped, …)
            return True

        results = await asyncio.gather(*(retry(r.id, r.sequence_id) for r in erred))
        retried = sum(results)
    updated = await accounts.sender(caller.workspace, sender_id)
    assert updated is not None
    public = _public(updated)
    public.recipients_retried = retried
    return public
