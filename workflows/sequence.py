"""SequenceWorkflow: owns a sequence's definition, settings, status and pause history.

Updates: pause, resume (validated: pause only when active, resume only when paused),
         edit_step (sequence content; reaches recipients that have not reached the step),
         change_sender (recipients send from the new sender; the running ones are paused),
         sender_vacations (its sender's vacations changed: told to every recipient)
Queries: describe

A pause or resume is acknowledged at once with its epoch and moment; the fan-out to the
recipients runs after, in an activity that signals them through the client with bounded
concurrency and resumes from its heartbeat after a crash. A newer change supersedes a fan-out
still running, and recipients ignore epochs older than the one they applied, so repeated or
reordered pause/resume converge on the last acknowledged state.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.fanout import SequenceFanOut
    from domain.actions import SEQUENCE_ACTIONS, sequence_allows
    from domain.statuses import Action, SequenceStatus
    from workflows import contract
    from workflows.models import (
        ActionRequest,
        ChangeSenderRequest,
        EditStepRequest,
        FanOutRequest,
        SenderChange,
        SenderVacations,
        SequenceInput,
        SequenceStateChange,
        SequenceView,
        StepContentChange,
    )

# How soon another worker carries on a fan-out whose worker died. Its heartbeat reaches the
# server at least every 2 s (worker.HEARTBEAT_THROTTLE) while any recipient answers.
FAN_OUT_HEARTBEAT = timedelta(seconds=10)
FAN_OUT_TIMEOUT = timedelta(hours=6)
HISTORY_LIMIT = 2_000


@workflow.defn
class SequenceWorkflow:
    @workflow.init
    def __init__(self, input: SequenceInput) -> None:
        self._input = input
        self._status = input.status
        self._epoch = input.epoch
        self._state_at = input.state_at
        self._intervals = list(input.pause_intervals)
        self._fanned_out = input.fanned_out_epoch
        self._definition = input.definition
        self._content_edits = list(input.content_edits)
        self._sender_changes = list(input.sender_changes)
        self._vacations = input.vacations  # newest, not yet fanned out

    @workflow.run
    async def run(self, input: SequenceInput) -> SequenceView:
        while self._status is not SequenceStatus.ARCHIVED:
            await workflow.wait_condition(
                lambda: (
                    self._fanned_out < self._epoch
                    or bool(self._content_edits)
                    or bool(self._sender_changes)
                    or self._vacations is not None
                    or self._status is SequenceStatus.ARCHIVED
                    or workflow.info().is_continue_as_new_suggested()
                    or workflow.info().get_current_history_length() > HISTORY_LIMIT
                )
            )
            if self._sender_change_first():
                await self._fan_out_sender()
            elif self._fanned_out < self._epoch:
                await self._fan_out()
            elif self._sender_changes:
                await self._fan_out_sender()
            elif self._vacations is not None:
                told = self._vacations
                await self._fan_out_edit(FanOutRequest(vacations=told, **self._target()))
                if self._vacations is told:
                    self._vacations = None  # (a newer one arrived meanwhile: it goes next)
            elif self._content_edits:
                await self._fan_out_content(self._content_edits[0])
                self._content_edits.pop(0)
            elif self._status is not SequenceStatus.ARCHIVED and workflow.all_handlers_finished():
                workflow.continue_as_new(self._carry())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.describe()

    async def _fan_out(self) -> None:
        epoch = self._epoch
        assert self._state_at is not None
        handle = workflow.start_activity_method(
            SequenceFanOut.fan_out_sequence_state,
            FanOutRequest(
                workspace=self._input.workspace,
                sequence_id=self._input.sequence_id,
                change=SequenceStateChange(
                    epoch=epoch,
                    paused=self._status is SequenceStatus.PAUSED,
                    at=self._state_at,
                ),
            ),
            start_to_close_timeout=FAN_OUT_TIMEOUT,
            heartbeat_timeout=FAN_OUT_HEARTBEAT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.wait_condition(lambda: handle.done() or self._epoch != epoch)
        if not handle.done():
            handle.cancel()  # superseded: the newer change's fan-out carries the truth
        try:
            await handle
            self._fanned_out = max(self._fanned_out, epoch)
        except ActivityError:
            pass  # cancelled by a newer epoch; the loop fans that one out

    def _sender_change_first(self) -> bool:
        """A sender change acknowledged before a pause/resume not yet fanned out goes first,
        so each recipient sees them in the order they were acknowledged."""
        return bool(self._sender_changes) and self._sender_changes[0].epoch <= self._fanned_out

    async def _fan_out_sender(self) -> None:
        await self._fan_out_edit(FanOutRequest(sender=self._sender_changes[0], **self._target()))
        self._sender_changes.pop(0)

    async def _fan_out_content(self, edit: StepContentChange) -> None:
        await self._fan_out_edit(FanOutRequest(content=edit, **self._target()))

    def _target(self) -> dict[str, str]:
        return {"workspace": self._input.workspace, "sequence_id": self._input.sequence_id}

    async def _fan_out_edit(self, request: FanOutRequest) -> None:
        await workflow.execute_activity_method(
            SequenceFanOut.fan_out_sequence_state,
            request,
            start_to_close_timeout=FAN_OUT_TIMEOUT,
            heartbeat_timeout=FAN_OUT_HEARTBEAT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )

    @workflow.update
    async def change_sender(self, request: ChangeSenderRequest) -> SequenceView:
        settings = self._definition.settings
        if settings.sender_id == request.sender_id:
            return self.describe()  # nothing changes: no recipient is paused
        self._definition = self._definition.model_copy(
            update={
                "settings": settings.model_copy(update={"sender_id": request.sender_id}),
                "version": self._definition.version + 1,
            }
        )
        self._sender_changes.append(
            SenderChange(
                version=self._definition.version,
                sender_id=request.sender_id,
                at=workflow.now(),
                sequence_paused=self._status is SequenceStatus.PAUSED,
                epoch=self._epoch,
            )
        )
        return self.describe()

    @workflow.update
    async def sender_vacations(self, told: SenderVacations) -> SequenceView:
        """Only the newest matters: recipients take the whole list, by version."""
        if self._vacations is None or told.version > self._vacations.version:
            self._vacations = told
        return self.describe()

    @workflow.update
    async def edit_step(self, request: EditStepRequest) -> SequenceView:
        steps = self._definition.steps
        merged = steps[request.step].content.with_edit(request.content)
        new_steps = list(steps)
        new_steps[request.step] = steps[request.step].model_copy(update={"content": merged})
        self._definition = self._definition.model_copy(
            update={"steps": new_steps, "version": self._definition.version + 1}
        )
        self._content_edits.append(
            StepContentChange(version=self._definition.version, step=request.step, content=merged)
        )
        return self.describe()

    @edit_step.validator
    def _validate_edit_step(self, request: EditStepRequest) -> None:
        if not 0 <= request.step < len(self._definition.steps):
            raise ApplicationError(
                f"step must be between 0 and {len(self._definition.steps) - 1}",
                type=contract.INVALID_REQUEST,
                non_retryable=True,
            )

    @workflow.update
    async def pause(self, request: ActionRequest) -> SequenceView:
        now = workflow.now()
        self._status, self._epoch, self._state_at = SequenceStatus.PAUSED, self._epoch + 1, now
        self._intervals.append((now, None))
        return self.describe()

    @pause.validator
    def _validate_pause(self, request: ActionRequest) -> None:
        if not sequence_allows(Action.PAUSE, self._status):
            raise _not_allowed(Action.PAUSE, self._status)

    @workflow.update
    async def resume(self, request: ActionRequest) -> SequenceView:
        now = workflow.now()
        self._status, self._epoch, self._state_at = SequenceStatus.ACTIVE, self._epoch + 1, now
        if self._intervals and self._intervals[-1][1] is None:
            self._intervals[-1] = (self._intervals[-1][0], now)
        return self.describe()

    @resume.validator
    def _validate_resume(self, request: ActionRequest) -> None:
        if not sequence_allows(Action.RESUME, self._status):
            raise _not_allowed(Action.RESUME, self._status)

    @workflow.query
    def describe(self) -> SequenceView:
        return SequenceView(
            sequence_id=self._input.sequence_id,
            status=self._status,
            definition=self._definition,
            pause_intervals=self._intervals,
            epoch=self._epoch,
            state_at=self._state_at,
        )

    def _carry(self) -> SequenceInput:
        return self._input.model_copy(
            update={
                "status": self._status,
                "epoch": self._epoch,
                "state_at": self._state_at,
                "pause_intervals": self._intervals,
                "fanned_out_epoch": self._fanned_out,
                "definition": self._definition,
                "content_edits": self._content_edits,
                "sender_changes": self._sender_changes,
                "vacations": self._vacations,
            }
        )


def _not_allowed(action: Action, status: SequenceStatus) -> ApplicationError:
    allowed = [a.value for a in SEQUENCE_ACTIONS[status]]
    return ApplicationError(
        f"{action.value} is not possible for a sequence that is {status.value}",
        {"status_now": status.value, "allowed_actions": allowed},
        type=contract.ACTION_REJECTED,
        non_retryable=True,
    )
