"""Sender accounts: connect and disconnect (reconnecting retries the recipients that erred on
it), and vacations: pause a sender and every recipient sending from it is held, in every
sequence, until it is back (docs/holds.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter
from temporalio.client import Client

from api import recipient_calls as calls
from api import sequence_calls
from api.deps import CallerDep, ClientDep, StoreDep
from api.problems import Problem, not_found
from api.schemas import SenderCreate, SenderPublic, SenderUpdate, VacationBody, VacationOut
from domain import vacations
from domain.models import Vacation
from domain.statuses import Action, HoldSource
from observability import metrics
from store.accounts import Accounts
from store.holds import PauseBarrier, vacations_of
from store.tables import SenderRow
from workflows.models import ActionRequest, SenderVacations

router = APIRouter(prefix="/v1/senders", tags=["senders"])

RETRY_CONCURRENCY = 16


def public(row: SenderRow) -> SenderPublic:
    now = datetime.now(UTC)
    spans = vacations.current(vacations_of(row), now)
    return SenderPublic(
        id=row.id,
        name=row.name,
        email=row.email,
        status=row.status,
        daily_cap=row.daily_cap,
        created_at=row.created_at,
        on_vacation=vacations.covering(spans, now) is not None,
        vacations=[
            VacationOut.model_validate({**v.model_dump(), "current": v.start <= now}) for v in spans
        ],
    )


@router.post("", status_code=201, response_model=SenderPublic)
async def create(body: SenderCreate, caller: CallerDep, store: StoreDep) -> SenderPublic:
    row = await Accounts(store).create_sender(
        caller.workspace, body.name, str(body.email), body.daily_cap
    )
    return public(row)


@router.get("", response_model=list[SenderPublic])
async def list_all(caller: CallerDep, store: StoreDep) -> list[SenderPublic]:
    return [public(row) for row in await Accounts(store).senders(caller.workspace)]


@router.get("/{sender_id}", response_model=SenderPublic)
async def one(sender_id: str, caller: CallerDep, store: StoreDep) -> SenderPublic:
    row = await Accounts(store).sender(caller.workspace, sender_id)
    if row is None:
        raise not_found(f"sender {sender_id}")
    return public(row)


@router.post("/{sender_id}/pause", response_model=SenderPublic)
async def pause(
    sender_id: str, body: VacationBody, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SenderPublic:
    """A vacation: from `from` (now) to `until` (its resume). Overlapping ones merge. Once
    answered (or once `from` arrives) nothing more goes out from this sender."""
    now = datetime.now(UTC)
    start = max(body.from_ or now, now)
    try:
        vacations.check(start, body.until, now)
    except vacations.InvalidVacation as exc:
        raise Problem(422, "Invalid request", str(exc)) from None
    planned = Vacation(start=start, end=body.until, reason=body.reason, note=body.note)
    changed = await PauseBarrier(store).plan_vacation(caller.workspace, sender_id, planned, now)
    answer = await _told(changed, sender_id, caller.workspace, client)
    metrics.hold_applied(HoldSource.SENDER)
    return answer


@router.post("/{sender_id}/resume", response_model=SenderPublic)
async def resume(
    sender_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> SenderPublic:
    """Back now: the vacation running ends (planned ones stay); what it held goes on."""
    row = await Accounts(store).sender(caller.workspace, sender_id)
    if row is None:
        raise not_found(f"sender {sender_id}")
    now = datetime.now(UTC)
    if vacations.covering(vacations_of(row), now) is None:
        raise Problem(
            409,
            "Not possible now",
            f"sender {sender_id} is not on vacation; resume is possible only during one",
        )
    changed = await PauseBarrier(store).end_vacation(caller.workspace, sender_id, now)
    answer = await _told(changed, sender_id, caller.workspace, client)
    metrics.hold_released(HoldSource.SENDER)
    return answer


async def _told(
    changed: tuple[SenderRow, list[str]] | None, sender_id: str, workspace: str, client: Client
) -> SenderPublic:
    """Every sequence sending from the sender is told its vacations (then fans them out)."""
    if changed is None:
        raise not_found(f"sender {sender_id}")
    row, sequence_ids = changed
    told = SenderVacations(
        sender_id=row.id, version=row.vacations_version, vacations=vacations_of(row)
    )
    await sequence_calls.tell_vacations(client, workspace, sequence_ids, told)
    return public(row)


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
    shown = public(updated)
    shown.recipients_retried = retried
    return shown
