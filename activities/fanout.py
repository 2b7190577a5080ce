"""Fan-out of a sequence's changes (pause/resume, content, sender) to its recipients.

Pages the store's recipients in id order and reaches each through the client, paced by how
fast Temporal answers (activities/pacing.py), so the sequence workflow never holds recipients
as children (no 2,000-pending limit) and a large fan-out does not starve a person's single
action. Progress is the heartbeat: a retried attempt starts after the last page it finished.

Successive pause/resume passes go in opposite directions. The worker's workflow cache is LRU,
so a pass in the same order as the one before finds none of the recipients it cached (each
is evicted just before it is reached) and replays every one; the reverse order reaches the
cached ones first. Enrollment and first steps go in id order, so a pause (odd epoch) goes from
the newest recipient down.

A pause/resume goes as an update: each recipient applies it and answers with its projection,
and the page's projections are written in one statement. Per recipient that is one workflow
task and no local activity (a signal would cost a task, a local activity, and a second task
for its result): the worker's CPU is what bounds a large fan-out on a small machine.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.pacing import CEILING, TOLERANCE, Pacing
from activities.projection import projected
from domain.outbound import EventType, OutboundEvent
from domain.statuses import SequenceStatus
from observability import metrics
from store.db import Store
from store.holds import PauseBarrier
from store.recipients import Recipients
from store.sequences import Sequences
from store.webhooks import Webhooks
from workflows import contract
from workflows.contract import recipient_workflow_id
from workflows.models import FanOutRequest, RecipientProjection
from workflows.recipient import RecipientWorkflow

PAGE = 100
TRIES = 4  # per recipient within an attempt, for errors that are not "it has ended"


class SequenceFanOut:
    def __init__(
        self,
        client: Client,
        store: Store,
        concurrency: int = CEILING,
        tolerance: float = TOLERANCE,
    ) -> None:
        self.client = client
        self.store = store
        self.concurrency = concurrency  # settings.fan_out_concurrency: the ceiling
        self.tolerance = tolerance  # settings.fan_out_latency_tolerance

    @activity.defn(name=contract.FAN_OUT_SEQUENCE_STATE)
    async def fan_out_sequence_state(self, request: FanOutRequest) -> int:
        details = activity.info().heartbeat_details
        cursor: str = details[0] if details else ""
        reached = int(details[1]) if len(details) > 1 else 0
        if details:
            # An earlier attempt died or its worker stopped: carry on after its last page.
            activity.logger.info(
                "fan-out resumed after %d recipients (attempt %d)", reached, activity.info().attempt
            )
        if request.change is not None:
            # Recorded before any write of ours, so an older change's bulk statement (the API
            # answering it) cannot land after them.
            change = request.change
            status = SequenceStatus.PAUSED if change.paused else SequenceStatus.ACTIVE
            await PauseBarrier(self.store).follow_sequence(
                request.sequence_id, status, change.epoch, change.at
            )
            # Its progress (GET /v1/sequences/{sid}: fan_out) counts from here; a retried
            # attempt keeps what the last one recorded.
            await Sequences(self.store).fan_out_begun(request.sequence_id, change.epoch)
        await self._tell(request)
        pacing = Pacing(ceiling=self.concurrency, tolerance=self.tolerance)
        recipients = Recipients(self.store)
        pages: deque[_Page] = deque()  # reached in any order; written, and counted, in order
        write_lock = asyncio.Lock()
        finished = False

        async def reach(recipient_id: str, page: _Page) -> None:
            handle = self.client.get_workflow_handle_for(
                RecipientWorkflow.run,
                recipient_workflow_id(request.workspace, request.sequence_id, recipient_id),
            )
            try:
                answer = await self._reach_one(handle, request, pacing, cursor, reached)
            finally:
                await pacing.release()
            page.answers.append(answer)
            if page.done:
                await write_done_pages()

        async def write_done_pages() -> None:
            """The pages finished at the front: their projections in one statement each, then
            the heartbeat that lets a retried attempt start after them."""
            nonlocal cursor, reached, finished
            async with write_lock:
                while pages and pages[0].done:
                    page = pages.popleft()
                    answers = [a for a in page.answers if a is not None]
                    await recipients.project([projected(a) for a in answers])
                    cursor, reached = page.last, reached + page.size
                    finished = page.size < PAGE  # a short page is the last (unless one joins)
                    await self._record_progress(request, reached, done=finished)
                    activity.heartbeat(cursor, reached)
                    progress.reached(page.size)

        descending = request.change is not None and request.change.epoch % 2 == 1
        with metrics.fanning_out(*_what_changed(request)) as progress:
            try:
                async with asyncio.TaskGroup() as group:
                    after = cursor
                    while ids := await recipients.ids_page(
                        request.sequence_id, after, PAGE, descending=descending
                    ):
                        page = _Page(last=ids[-1], size=len(ids))
                        pages.append(page)
                        for rid in ids:
                            # Room first, so the next page is read only as the fan-out gets
                            # to it and the tasks waiting are never more than the limit.
                            await pacing.acquire()
                            group.create_task(reach(rid, page))
                        after = ids[-1]
            except* Exception as failed:
                # One recipient failed for good (or the store): this attempt fails, and its
                # retry starts after the last page written.
                raise failed.exceptions[0] from None
            if not finished:
                await self._record_progress(request, reached, done=True)
            activity.logger.info(
                "fan-out reached %d recipients; %d at once at the end", reached, pacing.allowed
            )
            return reached

    async def _reach_one(
        self,
        handle: WorkflowHandle[Any, Any],
        request: FanOutRequest,
        pacing: Pacing,
        cursor: str,
        reached: int,
    ) -> RecipientProjection | None:
        for attempt in range(TRIES):
            # Keep the heartbeat alive within a page (a slow server must not look like a dead
            # worker); the details stay the last page fully done.
            activity.heartbeat(cursor, reached)
            started = time.perf_counter()
            try:
                answer = await _deliver(handle, request)
                pacing.answered(time.perf_counter() - started)
                return answer
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    pacing.answered(time.perf_counter() - started)
                    return None  # ended or deleted: nothing left to hold or release
                if attempt == TRIES - 1:
                    raise  # the attempt fails; its retry starts again at this page
                await asyncio.sleep(0.2 * 2**attempt)  # aborted, overloaded: again
            except WorkflowUpdateFailedError as exc:
                # Its handler failed: one recipient must not stall the others.
                activity.logger.warning("recipient %s: %s", handle.id, exc.cause)
                return None
        return None

    async def _record_progress(self, request: FanOutRequest, reached: int, *, done: bool) -> None:
        """A pause/resume's progress in the store, once per page (edits show none)."""
        if request.change is not None:
            await Sequences(self.store).fan_out_reached(
                request.sequence_id, request.change.epoch, reached, done=done
            )

    async def _tell(self, request: FanOutRequest) -> None:
        """The sequence's change, told to webhooks once (its id is the change's own)."""
        sid = request.sequence_id
        data: dict[str, Any] = {"sequence_id": sid}
        if request.change is not None:
            change = request.change
            kind = EventType.SEQUENCE_PAUSED if change.paused else EventType.SEQUENCE_RESUMED
            if change.paused:
                data["holds"] = await PauseBarrier(self.store).held_by_sequence_pause(sid)
            event_id, at = f"evt_{sid}_state_{change.epoch}", change.at
            data["epoch"] = change.epoch
        elif request.content is not None:
            kind, at = EventType.SEQUENCE_CHANGED, datetime.now(UTC)
            event_id = f"evt_{sid}_content_{request.content.version}"
            data |= {"change": "content", "step": request.content.step}
        elif request.sender is not None:
            kind, at = EventType.SEQUENCE_CHANGED, request.sender.at
            event_id = f"evt_{sid}_sender_{request.sender.version}"
            data |= {"change": "sender", "sender_id": request.sender.sender_id}
        else:
            return
        told = OutboundEvent(id=event_id, type=kind, at=at, data=data)
        await Webhooks(self.store).publish(request.workspace, [told])


def _what_changed(request: FanOutRequest) -> tuple[str, datetime]:
    """The kind of change (a metric label) and when it was acknowledged: its own moment, or
    for one that carries none (an edit, vacations) when the sequence workflow scheduled this
    fan-out."""
    if request.change is not None:
        return "state", request.change.at
    if request.sender is not None:
        return "sender", request.sender.at
    if request.vacations is not None:
        return "vacations", activity.info().scheduled_time
    return "content", activity.info().scheduled_time


async def _deliver(
    handle: WorkflowHandle[Any, Any], request: FanOutRequest
) -> RecipientProjection | None:
    """One recipient: a pause/resume as an update (idempotent by epoch: a repeat answers
    with the current projection), edits and vacations as signals (idempotent by version)."""
    if request.change is not None:
        return await handle.execute_update(RecipientWorkflow.apply_sequence_state, request.change)
    if request.content is not None:
        await handle.signal(RecipientWorkflow.sequence_content, request.content)
    if request.sender is not None:
        await handle.signal(RecipientWorkflow.sequence_sender, request.sender)
    if request.vacations is not None:
        await handle.signal(RecipientWorkflow.sender_vacations, request.vacations)
    return None


@dataclass
class _Page:
    """A page of recipients being reached: written to the store once all have answered."""

    last: str  # its last id: the cursor once it is written
    size: int
    answers: list[RecipientProjection | None] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return len(self.answers) == self.size
