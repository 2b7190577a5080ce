"""RecipientBulkWorkflow: a bulk pause or resume's per-recipient work, durable.

The API shows the change in one statement and starts this; it runs the activity that asks
each recipient (activities/bulk.py) and ends with how many took it. No signals, updates or
queries: the store shows the progress, each recipient its own state.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.bulk import RecipientBulkHolds
    from workflows.models import BulkHoldOutcome, BulkHoldRequest

HEARTBEAT = timedelta(seconds=30)
TIMEOUT = timedelta(hours=6)


@workflow.defn
class RecipientBulkWorkflow:
    @workflow.run
    async def run(self, request: BulkHoldRequest) -> BulkHoldOutcome:
        return await workflow.execute_activity_method(
            RecipientBulkHolds.apply_bulk_hold,
            request,
            start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
