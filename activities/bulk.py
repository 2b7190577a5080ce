"""A bulk pause or resume, recipient by recipient, after the API has shown it in one statement.

Pages through the ids with bounded concurrency (as the sequence fan-out does, so a large bulk
does not starve a person's single action); progress is the heartbeat, so a retried attempt
starts after the last page it finished. A recipient that refuses (it ended, or a person moved
it on meanwhile) keeps its own state: it is asked to project it again, over what the bulk
statement showed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.statuses import HoldSource
from observability import metrics
from store.db import Store
from store.holds import PauseBarrier
from workflows import contract
from workflows.contract import recipient_workflow_id
from workflows.models import BulkHoldOutcome, BulkHoldRequest
from workflows.recipient import RecipientWorkflow

PAGE = 100
CONCURRENCY = 24
TRIES = 4


class RecipientBulkHolds:
    def __init__(self, client: Client, store: Store) -> None:
        self.client = client
        self.store = store

    @activity.defn(name=contract.APPLY_BULK_HOLD)
    async def apply_bulk_hold(self, request: BulkHoldRequest) -> BulkHoldOutcome:
        details = activity.info().heartbeat_details
        done, applied, refused = (int(d) for d in details) if details else (0, 0, 0)
        barrier = PauseBarrier(self.store)
        gate = asyncio.Semaphore(CONCURRENCY)
        update = RecipientWorkflow.pause if request.pause else RecipientWorkflow.resume
        source = HoldSource.RECIPIENT

        async def ask(recipient_id: str) -> bool:
            handle = self.client.get_workflow_handle_for(
                RecipientWorkflow.run,
                recipient_workflow_id(request.workspace, request.sequence_id, recipient_id),
            )
            async with gate:
                for attempt in range(TRIES):
                    activity.heartbeat(done, applied, refused)
                    try:
                        await handle.execute_update(update, request.request)
                        return True
                    except WorkflowUpdateFailedError:
                        await _project_again(handle)
                        return False
                    except RPCError as exc:
                        if exc.status is RPCStatusCode.NOT_FOUND:
                            return False  # ended or deleted
                        if attempt == TRIES - 1:
                            raise  # the attempt fails; its retry starts at this page
                        await asyncio.sleep(0.2 * 2**attempt)
                return False

        ids = request.recipient_ids
        while done < len(ids):
            page = ids[done : done + PAGE]
            answers = await asyncio.gather(*(ask(rid) for rid in page))
            if request.pause:
                await barrier.taken(request.bulk_id, page)
            for took in answers:
                if took:
                    (metrics.hold_applied if request.pause else metrics.hold_released)(source)
            applied += sum(answers)
            refused += len(answers) - sum(answers)
            done += len(page)
            activity.heartbeat(done, applied, refused)
        return BulkHoldOutcome(applied=applied, refused=refused)


async def _project_again(handle: WorkflowHandle[Any, Any]) -> None:
    with contextlib.suppress(RPCError):
        await handle.signal(RecipientWorkflow.project_again)
