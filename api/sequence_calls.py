"""Calling a sequence workflow from the API: create, pause/resume, edit a step, change sender.

Each change is acknowledged by the sequence workflow (the truth), then shown at once in the
store; the recipients catch up through the workflow's fan-out. Routes never talk to a
sequence workflow but through here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Caller
from api.problems import Problem, not_found
from api.temporal_errors import (
    DEADLINE,
    outage,
    rejections_as_problems,
    temporal_problems,
    within_deadline,
)
from domain.ids import Prefix
from domain.models import SequenceDefinition, StepContent
from domain.statuses import Action, HoldSource, SequenceStatus
from observability import metrics
from settings import Settings
from store.db import Store
from store.holds import PauseBarrier
from store.ids import new_id
from store.sequences import Sequences, definition_of, status_of
from store.tables import SequenceRow
from workflows.contract import sequence_workflow_id
from workflows.launch import start_sequence
from workflows.models import (
    ActionRequest,
    ChangeSenderRequest,
    EditStepRequest,
    SenderVacations,
    SequenceInput,
    SequenceView,
)
from workflows.sequence import SequenceWorkflow

_STATE_UPDATES = {Action.PAUSE: SequenceWorkflow.pause, Action.RESUME: SequenceWorkflow.resume}
UPDATE_TRIES = 5
# Half of Temporal's 2 MB payload limit: a recipient's input also holds its contact, and its
# state (carried by continue-as-new) grows with its timeline.
MAX_DEFINITION_BYTES = 1024 * 1024


def handle_for(
    client: Client, workspace: str, sequence_id: str
) -> WorkflowHandle[SequenceWorkflow, SequenceView]:
    return client.get_workflow_handle_for(
        SequenceWorkflow.run, sequence_workflow_id(workspace, sequence_id)
    )


async def sequence_row(store: Store, caller: Caller, sequence_id: str) -> SequenceRow:
    row = await Sequences(store).get(caller.workspace, sequence_id)
    if row is None:
        raise not_found(f"sequence {sequence_id}")
    return row


async def create(
    client: Client, store: Store, settings: Settings, caller: Caller, definition: SequenceDefinition
) -> SequenceRow:
    """All or nothing: the workflow starts first (a new id, never reused), then the row is
    written; if the row cannot be written the workflow is ended again."""
    check_payload_size(definition)
    sequence_id = new_id(Prefix.SEQUENCE)
    async with within_deadline("the sequence"):
        handle = await start_sequence(
            client,
            settings.task_queue,
            SequenceInput(
                workspace=caller.workspace, sequence_id=sequence_id, definition=definition
            ),
        )
    try:
        return await Sequences(store).create(caller.workspace, sequence_id, definition)
    except BaseException:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(DEADLINE):
                await handle.terminate("its row could not be written")
        raise


def check_payload_size(definition: SequenceDefinition) -> None:
    """Every recipient carries the definition in its workflow input (Temporal refuses a
    payload over 2 MB): refuse a definition that would not leave room for the rest."""
    size = len(definition.model_dump_json())
    if size > MAX_DEFINITION_BYTES:
        raise Problem(
            422,
            "Invalid request",
            f"steps: the sequence's content is {size:,} bytes; at most "
            f"{MAX_DEFINITION_BYTES:,} are allowed (shorten bodies or use fewer steps)",
        )


async def change_state(
    action: Action, sequence_id: str, caller: Caller, client: Client, store: Store
) -> None:
    """Pause or resume: acknowledged by the sequence workflow, then shown at once by one bulk
    statement on the store's projection (store/holds.py)."""
    row = await sequence_row(store, caller, sequence_id)
    handle = handle_for(client, caller.workspace, sequence_id)
    barrier = PauseBarrier(store)
    if action is Action.PAUSE:
        # The barrier first: from here on no delivery of this sequence can be claimed.
        await barrier.raise_for_sequence(sequence_id)
    try:
        view = await _update(
            handle, action.value, _STATE_UPDATES[action], ActionRequest(actor=caller.actor)
        )
    except BaseException as exc:
        # Rejected (say, a concurrent request got there first) or not confirmed: the store
        # shows what the workflow holds, whatever this request's barrier wrote.
        rejected = isinstance(exc, WorkflowUpdateFailedError)
        await _restore(handle, barrier, row, ask=rejected)
        with rejections_as_problems():
            raise
    # Acknowledged by the sequence workflow: the hold its recipients are under changed.
    if action is Action.PAUSE:
        metrics.hold_applied(HoldSource.SEQUENCE)
    else:
        metrics.hold_released(HoldSource.SEQUENCE)
    # Unless a later change already answered: its own statement shows the store.
    await barrier.show_sequence_change(sequence_id, view.status, view.epoch, view.state_at)


async def _restore(
    handle: WorkflowHandle[SequenceWorkflow, SequenceView],
    barrier: PauseBarrier,
    row: SequenceRow,
    *,
    ask: bool,
) -> None:
    """The sequence row back to the workflow's truth (`ask`: it answered, with a refusal),
    or to what it showed before this request (it did not answer: its fan-out records the
    truth when it runs, if the change was applied after all)."""
    try:
        if not ask:
            raise TimeoutError
        async with asyncio.timeout(DEADLINE):
            truth = await handle.query(SequenceWorkflow.describe)
        await barrier.follow_sequence(row.id, truth.status, truth.epoch, truth.state_at)
    except (TimeoutError, RPCError):
        await barrier.follow_sequence(row.id, status_of(row), row.epoch, row.state_at)


async def edit_step(
    step: int, content: StepContent, sequence_id: str, caller: Caller, client: Client, store: Store
) -> None:
    """Sequence content, at any time: it reaches every recipient that has not reached the
    step and has no personal edit of it (through the sequence workflow's fan-out)."""
    row = await sequence_row(store, caller, sequence_id)
    edited = definition_of(row)
    if 0 <= step < len(edited.steps):
        edited.steps[step] = edited.steps[step].model_copy(
            update={"content": edited.steps[step].content.with_edit(content)}
        )
        check_payload_size(edited)
    handle = handle_for(client, caller.workspace, sequence_id)
    async with within_deadline(f"sequence {sequence_id}"):
        with temporal_problems(f"sequence {sequence_id}"):
            view = await handle.execute_update(
                SequenceWorkflow.edit_step,
                EditStepRequest(actor=caller.actor, step=step, content=content),
            )
    await Sequences(store).follow_definition(sequence_id, view.definition)


async def change_sender(
    sender_id: str | None, sequence_id: str, caller: Caller, client: Client, store: Store
) -> None:
    """Its running recipients are paused, as of the moment the change was acknowledged, for a
    person to resume: the next message would go out from another mailbox."""
    row = await sequence_row(store, caller, sequence_id)
    sequences, barrier = Sequences(store), PauseBarrier(store)
    handle = handle_for(client, caller.workspace, sequence_id)
    truth = await _describe(handle)
    if sender_id == truth.definition.settings.sender_id:
        # Nothing changes (or an earlier request changed it and lost its answer): the store
        # follows the workflow.
        await sequences.follow_definition(sequence_id, truth.definition)
        return
    before = definition_of(row).settings.sender_id
    # The barrier first: from here on no message of this sequence leaves from the old sender.
    await barrier.raise_for_sender(sequence_id, sender_id)
    try:
        view = await _update(
            handle,
            "change_sender",
            SequenceWorkflow.change_sender,
            ChangeSenderRequest(actor=caller.actor, sender_id=sender_id),
        )
    except Exception:
        # Not acknowledged: the barrier goes back to the workflow's truth, or to what it was
        # when that cannot be read (a retry of this request compares with the workflow).
        try:
            async with asyncio.timeout(DEADLINE):
                truth = await handle.query(SequenceWorkflow.describe)
            restored = truth.definition.settings.sender_id
        except (TimeoutError, RPCError):
            restored = before
        await barrier.raise_for_sender(sequence_id, restored)
        raise
    await sequences.follow_definition(sequence_id, view.definition)
    if view.status is SequenceStatus.ACTIVE:
        # (While paused the sequence holds them; its resume is the person's go-ahead.)
        await barrier.hold_for_sender_change(sequence_id)


async def tell_vacations(
    client: Client, workspace: str, sequence_ids: list[str], told: SenderVacations
) -> None:
    """A sender's vacations, to each sequence that sends from it; each fans them out to its
    recipients. The ledger's barrier holds their messages already; this is for their clocks
    and views. If a sequence cannot be told the caller answers 503 with the vacation recorded:
    asking again tells every sequence again (recipients take the newest version)."""
    gate = asyncio.Semaphore(8)

    async def tell(sequence_id: str) -> None:
        async with gate:
            await _update(
                handle_for(client, workspace, sequence_id),
                "sender's vacation",
                SequenceWorkflow.sender_vacations,
                told,
            )

    await asyncio.gather(*(tell(sid) for sid in sequence_ids))


async def _describe(handle: WorkflowHandle[SequenceWorkflow, SequenceView]) -> SequenceView:
    try:
        async with asyncio.timeout(DEADLINE):
            return await handle.query(SequenceWorkflow.describe)
    except (TimeoutError, RPCError):
        raise outage("the sequence") from None


async def _update(
    handle: WorkflowHandle[SequenceWorkflow, SequenceView], what: str, update: Any, request: Any
) -> SequenceView:
    """The server aborts an update it had not yet accepted when many race for one workflow
    (20 concurrent pause/resume requests do): such an update was never applied, so ask again."""
    for attempt in range(UPDATE_TRIES):
        try:
            async with asyncio.timeout(DEADLINE):
                view: SequenceView = await handle.execute_update(update, request)
            return view
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise outage(f"the {what}") from None
        except RPCError as exc:
            if exc.status is not RPCStatusCode.UNAVAILABLE or attempt == UPDATE_TRIES - 1:
                raise outage(f"the {what}") from None
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")
