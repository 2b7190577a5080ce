"""The workspace's suppression list: addresses that must never be contacted again."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from temporalio.client import Client
from temporalio.service import RPCError

from api import recipient_calls as calls
from api.deps import CallerDep, ClientDep, StoreDep
from api.problems import not_found
from api.schemas import SuppressionCreate, SuppressionPage, SuppressionPublic
from api.temporal_errors import DEADLINE
from domain.events import EventKind
from store.accounts import Accounts
from store.db import Store
from workflows.models import InboundEvent
from workflows.recipient import RecipientWorkflow

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])


async def suppress_address(
    client: Client, store: Store, workspace: str, email: str, reason: str, event_id: str
) -> tuple[SuppressionPublic, list[str]]:
    """Add to the list, then tell every recipient with that address in every sequence.

    The list itself is the guarantee (each dispatch checks it when it claims its delivery);
    the signals make the recipients show `unsubscribed` straight away.
    """
    accounts = Accounts(store)
    row = await accounts.suppress(workspace, email, reason)
    recipients = await accounts.recipients_with_email(workspace, email)

    async def tell(recipient_id: str, sequence_id: str) -> str | None:
        handle = calls.handle_for(client, workspace, sequence_id, recipient_id)
        try:
            async with asyncio.timeout(DEADLINE):
                await handle.signal(
                    RecipientWorkflow.inbound,
                    InboundEvent(event_id=event_id, kind=EventKind.UNSUBSCRIBE),
                )
        except (RPCError, TimeoutError):
            # Ended already (nothing will be sent to them anyway), or not reachable now: the
            # list itself is the guarantee, checked by every dispatch when it claims.
            return None
        return recipient_id

    told = await asyncio.gather(*(tell(r.id, r.sequence_id) for r in recipients))
    public = SuppressionPublic(email=row.email, reason=row.reason, created_at=row.created_at)
    return public, [rid for rid in told if rid]


@router.post("", status_code=201, response_model=SuppressionPublic)
async def add(
    body: SuppressionCreate, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SuppressionPublic:
    public, told = await suppress_address(
        client, store, caller.workspace, body.email, body.reason, f"suppression:{body.email}"
    )
    public.recipients_unsubscribed = len(told)
    return public


@router.get("", response_model=SuppressionPage)
async def list_all(
    caller: CallerDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> SuppressionPage:
    rows = await Accounts(store).suppressions(
        caller.workspace, limit + 1, int(cursor) if cursor else None
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return SuppressionPage(
        items=[
            SuppressionPublic(email=r.email, reason=r.reason, created_at=r.created_at) for r in rows
        ],
        next_cursor=str(rows[-1].id) if more else None,
    )


@router.delete("/{email}")
async def remove(email: str, caller: CallerDep, store: StoreDep) -> dict[str, str]:
    """Lifting a suppression allows new enrollments; unsubscribed recipients stay ended."""
    if not await Accounts(store).unsuppress(caller.workspace, email):
        raise not_found(f"suppression of {email}")
    return {"email": email.lower(), "status": "removed"}
