"""A planted nondeterminism for the replay tool's tests: today's RecipientWorkflow with one
change made the wrong way, outside `workflow.patched()` — a short timer before anything else.

It is registered under the recipient's workflow name, so a worker (or the replayer) running it
would take every running recipient for its own; replaying one of their histories meets a timer
where the history recorded the recipient's first commands.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import RecipientInput, RecipientView
    from workflows.recipient import RecipientWorkflow


@workflow.defn(name="RecipientWorkflow")
class RecipientWorkflowWithAnUnpatchedTimer:
    @workflow.init
    def __init__(self, input: RecipientInput) -> None:
        self._recipient = RecipientWorkflow(input)

    @workflow.run
    async def run(self, input: RecipientInput) -> RecipientView:
        await workflow.sleep(timedelta(seconds=1))  # new, and not behind workflow.patched()
        return await self._recipient.run(input)
