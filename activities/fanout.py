"""Fan-out of a sequence pause/resume to its recipients, through the client.

Pages the store's recipients in id order and signals each with bounded concurrency, so the
sequence workflow never holds recipients as children (no 2,000-pending limit) and a large
fan-out does not starve a person's single action. Progress is the heartbeat: a retried
attempt starts after the last page it finished.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from store.db import Store
from workflows.ids import recipient_workflow_id
from workflows.models import FanOutRequest

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
        signalled = int(details[1]) if len(details) > 1 else 0
        gate = asyncio.Semaphore(CONCURRENCY)

        async def signal(recipient_id: str) -> None:
            handle = self.client.get_workflow_handle(
                recipient_workflow_id(request.workspace, request.sequence_id, recipient_id)
            )
            async with gate:
                # Keep the heartbeat alive within a page (a slow server must not look like a
                # dead worker); the details stay the last page fully done.
                activity.heartbeat(cursor, signalled)
                try:
                    if request.change is not None:
                        await handle.signal("sequence_state", request.change)
                    if request.content is not None:
                        await handle.signal("sequence_content", request.content)
                except RPCError:
                    pass  # ended or deleted: nothing left to hold or release

        while True:
            page = await self.store.recipient_ids_page(request.sequence_id, cursor, PAGE)
            if not page:
                return signalled
            await asyncio.gather(*(signal(rid) for rid, _ in page))
            cursor, signalled = page[-1][0], signalled + len(page)
            activity.heartbeat(cursor, signalled)
