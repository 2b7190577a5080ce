"""SequenceWorkflow: owns a sequence's definition, settings and status.

Queries: describe
(Sequence-level pause/resume fan-out and enrollment through this workflow arrive with the
sequence-pause work; today the API enrolls recipients directly.)
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.statuses import SequenceStatus
    from workflows.models import SequenceInput, SequenceView


@workflow.defn
class SequenceWorkflow:
    @workflow.init
    def __init__(self, input: SequenceInput) -> None:
        self._input = input
        self._status = input.status

    @workflow.run
    async def run(self, input: SequenceInput) -> SequenceView:
        await workflow.wait_condition(lambda: self._status is SequenceStatus.ARCHIVED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.describe()

    @workflow.query
    def describe(self) -> SequenceView:
        return SequenceView(
            sequence_id=self._input.sequence_id,
            status=self._status,
            definition=self._input.definition,
            pause_intervals=self._input.pause_intervals,
        )
