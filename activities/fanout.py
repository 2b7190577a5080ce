"""Fan-out of a sequence's changes (pause/resume, content, sender) to its recipients.

Pages the store's recipients in id order and reaches each through the client with bounded
concurrency, so the sequence workflow never holds recipients as children (no 2,000-pending
limit) and a large fan-out does not starve a person's single action. Progress is the
heartbeat: a retried attempt starts after the last page it finished.

A pause/resume goes as an update: each recipient applies it and answers with its projection,
and the page's projections are written in one statement. Per recipient that is one workflow
task and no local activity (a signal would cost a task, a local activity, and a second task
for its result): the worker's CPU is what bounds a large fan-out on a small machine.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from store.db import Projected, Store
from workflows.ids import recipient_workflow_id
from workflows.models import FanOutRequest, RecipientProjection

PAGE = 100
CONCURRENCY = 24


class SequenceFanOut:
    def __init__(self, client: Client, store: Store) -> None:
        self.client = client
        self.store = store

    @activity.defn(name="fan_out_sequence_state")
    async def fan_out_sequence_state(self, request: FanOutRequest) -> int:
        details = activity.info().heartbeat_details
        cursor: str = details[0] if details else ""
        reached = int(details[1]) if len(details) > 1 else 0
        gate = asyncio.Semaphore(CONCURRENCY)

        async def reach(recipient_id: str) -> RecipientProjection | None:
            handle = self.client.get_workflow_handle(
                recipient_workflow_id(request.workspace, request.sequence_id, recipient_id)
            )
            async with gate:
                # Keep the heartbeat alive within a page (a slow server must not look like a
                # dead worker); the details stay the last page fully done.
                activity.heartbeat(cursor, reached)
                try:
                    if request.change is not None:
                        return await handle.execute_update(
                            "apply_sequence_state",
                            request.change,
                            result_type=RecipientProjection,
                        )
                    if request.content is not None:
                        await handle.signal("sequence_content", request.content)
                    if request.sender is not None:
                        await handle.signal("sequence_sender", request.sender)
                except (RPCError, WorkflowUpdateFailedError):
                    pass  # ended or deleted: nothing left to hold or release
                return None

        while True:
            page = await self.store.recipient_ids_page(request.sequence_id, cursor, PAGE)
            if not page:
                return reached
            answers = await asyncio.gather(*(reach(rid) for rid, _ in page))
            await self.store.project_many([_projected(a) for a in answers if a is not None])
            cursor, reached = page[-1][0], reached + len(page)
            activity.heartbeat(cursor, reached)


def _projected(p: RecipientProjection) -> Projected:
    return Projected(
        recipient_id=p.recipient_id,
        version=p.version,
        status=p.status.value,
        current_step=p.current_step,
        next_step_at=p.next_step_at,
        pause_source=p.pause_source,
        error_cause=p.error_cause,
    )
