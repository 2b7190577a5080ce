"""Bulk recipient actions (docs/statuses-and-actions.md), on named recipients or on all that a
filter matches: pause/resume need every selected recipient eligible; skip, stop, delete and edit
content act on the eligible ones and report the rest; stop and delete are irreversible, so the
first call previews and returns a token.

A large pause or resume (more than INLINE recipients) answers as a sequence pause does: one
statement shows the change (a pause also raises the ledger's barrier for all of them), and the
per-recipient work runs after, in a RecipientBulkWorkflow (activities/bulk.py)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from temporalio.client import Client

from api import confirmation
from api import recipient_calls as calls
from api.convert import situation_of
from api.deps import Caller, CallerDep, ClientDep, RendererDep, SettingsDep, StoreDep
from api.problems import Problem, invalid, not_found
from api.schemas import (
    MAX_MATCHING,
    BulkItem,
    BulkRecipientAction,
    BulkRecipientResult,
    RecipientFilterIn,
)
from api.template_checks import refuse_unrenderable, step_fields
from api.temporal_errors import temporal_problems, within_deadline
from domain import actions
from domain.ids import Prefix
from domain.models import StepContent
from domain.statuses import Action, SequenceStatus
from settings import Settings
from store.db import Store
from store.holds import PauseBarrier
from store.ids import new_id
from store.recipients import RecipientFilter, Recipients
from store.sequences import Sequences, definition_of, status_of
from store.tables import RecipientRow
from workflows.launch import start_bulk_hold
from workflows.models import ActionRequest, BulkHoldRequest, EditContentRequest, PauseRequest

router = APIRouter(prefix="/v1/sequences/{sequence_id}/recipients", tags=["recipients"])

CONCURRENCY = 16  # bounded, so a bulk action never starves single actions of the server
# Up to this many, a pause/resume is answered with each workflow's own answer; more, with the
# one statement that shows it (the workflows follow within seconds).
INLINE = 100
ALL_MUST_BE_ELIGIBLE = {Action.PAUSE, Action.RESUME}
CONFIRMED = {Action.STOP, Action.DELETE}


@router.post("/bulk", response_model=BulkRecipientResult)
async def bulk_action(
    sequence_id: str,
    body: BulkRecipientAction,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
    renderer: RendererDep,
) -> BulkRecipientResult:
    sequence = await Sequences(store).get(caller.workspace, sequence_id)
    if sequence is None:
        raise not_found(f"sequence {sequence_id}")
    definition = definition_of(sequence)
    sequence_paused = status_of(sequence) is SequenceStatus.PAUSED
    recipients = Recipients(store)
    action = Action(body.action)
    if body.content is not None:
        fields = step_fields("content.", body.content.model_dump())
        await refuse_unrenderable(renderer, fields, caller.workspace)
    result = BulkRecipientResult(action=action.value)
    if body.filter is not None:
        found = await recipients.matching(
            caller.workspace, sequence_id, _where(body.filter), MAX_MATCHING + 1
        )
        if len(found) > MAX_MATCHING:
            too_many = (
                f"matches more than {MAX_MATCHING:,} recipients; "
                "narrow it (status, pause_reason, hold_source, step, search)"
            )
            raise invalid([{"loc": ("body", "filter"), "msg": too_many}])
        ids = [row.id for row in found]
        rows = {row.id: row for row in found}
        result.matched = len(ids)
    else:
        assert body.recipient_ids is not None
        ids = list(dict.fromkeys(body.recipient_ids))
        rows = {
            row.id: row for row in await recipients.get_many(caller.workspace, sequence_id, ids)
        }
    eligible: list[str] = []
    for rid in ids:
        row = rows.get(rid)
        if row is None:
            result.not_eligible.append(BulkItem(id=rid, reason="not in this sequence"))
            continue
        situation = situation_of(row, definition, sequence_paused)
        if actions.bulk_allowed(action, situation):
            eligible.append(rid)
        else:
            result.not_eligible.append(
                BulkItem(
                    id=rid,
                    status=row.status,
                    reason=f"{action.value} not possible when {row.status}",
                )
            )

    if action in ALL_MUST_BE_ELIGIBLE and result.not_eligible:
        raise Problem(
            409,
            "Not all eligible",
            f"bulk {action.value} needs every selected recipient to be "
            + ("in progress or in error" if action is Action.PAUSE else "paused"),
            not_eligible=[item.model_dump() for item in result.not_eligible],
        )
    if action in CONFIRMED:
        secret = settings.token_secret_bytes()
        token = body.confirmation_token
        if token is None:
            result.confirmation_required = True
            result.confirmation_token = confirmation.issue(
                secret, caller.workspace, sequence_id, action.value, eligible
            )
            result.applied = []
            result.failed = []
            return _preview(result, eligible)
        if not confirmation.verify(
            secret, token, caller.workspace, sequence_id, action.value, eligible
        ):
            raise Problem(
                409,
                "Confirmation mismatch",
                "the token is expired, or was issued for other recipients than the ones "
                + ("the filter matches now" if body.filter else "selected")
                + "; preview again for a new one",
            )

    if action in ALL_MUST_BE_ELIGIBLE and len(eligible) > INLINE:
        return await _shown_then_fanned_out(
            action, body, caller, client, store, settings, sequence_id, eligible, rows, result
        )

    gate = asyncio.Semaphore(CONCURRENCY)

    async def apply(rid: str) -> None:
        handle = calls.handle_for(client, caller.workspace, sequence_id, rid)
        async with gate:
            try:
                if action is Action.DELETE:
                    await calls.remove(client, settings.temporal_namespace, store, handle, rid)
                    result.applied.append(BulkItem(id=rid, status="deleted"))
                    return
                payload = _payload(action, body, caller.actor)
                view = await calls.act(handle, action, payload, store, rid)
                result.applied.append(BulkItem(id=rid, status=view.status.value))
            except Problem as problem:
                result.failed.append(BulkItem(id=rid, reason=problem.detail))

    await asyncio.gather(*(apply(rid) for rid in eligible))
    order = {rid: i for i, rid in enumerate(ids)}
    result.applied.sort(key=lambda item: order[item.id])
    result.failed.sort(key=lambda item: order[item.id])
    return result


async def _shown_then_fanned_out(
    action: Action,
    body: BulkRecipientAction,
    caller: Caller,
    client: Client,
    store: Store,
    settings: Settings,
    sequence_id: str,
    eligible: list[str],
    rows: dict[str, RecipientRow],
    result: BulkRecipientResult,
) -> BulkRecipientResult:
    """Shown in one statement, then handed to a durable fan-out; if that cannot start, the
    rows go back to what they were and the caller hears why (never half a change)."""
    pause = action is Action.PAUSE
    barrier, bulk_id = PauseBarrier(store), new_id(Prefix.BULK)
    if pause:
        await barrier.raise_for_many(bulk_id, eligible, body.reason, body.until)
    else:
        await barrier.show_resumed_many(eligible)
    request = BulkHoldRequest(
        workspace=caller.workspace,
        sequence_id=sequence_id,
        bulk_id=bulk_id,
        pause=pause,
        request=PauseRequest(
            actor=caller.actor, reason=body.reason, note=body.note, until=body.until
        )
        if pause
        else PauseRequest(actor=caller.actor),
        recipient_ids=eligible,
    )
    try:
        async with within_deadline("the bulk action"):
            with temporal_problems("bulk action"):
                await start_bulk_hold(client, settings.task_queue, request)
    except BaseException:
        await barrier.restore(bulk_id, [rows[rid] for rid in eligible])
        raise
    shown = "paused" if pause else "in_progress"
    result.applied = [BulkItem(id=rid, status=shown) for rid in eligible]
    result.fan_out = bulk_id
    return result


def _where(given: RecipientFilterIn) -> RecipientFilter:
    return RecipientFilter(**given.model_dump())


def _preview(result: BulkRecipientResult, eligible: list[str]) -> BulkRecipientResult:
    result.applied = [BulkItem(id=rid, reason="will be applied once confirmed") for rid in eligible]
    return result


def _payload(action: Action, body: BulkRecipientAction, actor: str) -> ActionRequest:
    if action is Action.PAUSE:
        return PauseRequest(actor=actor, reason=body.reason, note=body.note, until=body.until)
    if action is Action.EDIT_CONTENT:
        assert body.step is not None and body.content is not None
        return EditContentRequest(
            actor=actor, step=body.step, content=StepContent(**body.content.model_dump())
        )
    return ActionRequest(actor=actor)
