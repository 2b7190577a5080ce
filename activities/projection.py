"""Projection of recipient state into the store (a local activity: cheap, ordered by version),
and the sequence state a recipient reads when it starts."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from domain.statuses import SequenceStatus
from store.db import Store
from store.holds import PauseBarrier
from store.recipients import Projected, Recipients
from store.sequences import Sequences
from workflows import contract
from workflows.models import (
    RecipientProjection,
    SenderVacations,
    SequenceStateChange,
    StartingHolds,
)


def projected(p: RecipientProjection) -> Projected:
    """A workflow's projection as the store writes it."""
    return Projected(
        recipient_id=p.recipient_id,
        version=p.version,
        status=p.status,
        current_step=p.current_step,
        next_step_at=p.next_step_at,
        pause_source=p.pause_source,
        pause_reason=p.pause_reason,
        pause_until=p.pause_until,
        error_cause=p.error_cause,
        final_view=p.final_view,
        workspace=p.workspace,
        events=p.events,
    )


class StoreProjector:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name=contract.PROJECT_RECIPIENT)
    async def project_recipient(self, projection: RecipientProjection) -> bool:
        """False if the row already shows a newer version (or is gone)."""
        return await Recipients(self.store).project([projected(projection)]) == 1

    @activity.defn(name=contract.READ_SEQUENCE_STATE)
    async def read_sequence_state(self, sequence_id: str) -> SequenceStateChange:
        """The sequence's newest acknowledged pause/resume (epoch 0: never changed)."""
        state = await Sequences(self.store).state(sequence_id)
        if state is None or state.at is None:
            return SequenceStateChange(epoch=0, paused=False, at=datetime.now(UTC))
        paused = state.status is SequenceStatus.PAUSED
        return SequenceStateChange(epoch=state.epoch, paused=paused, at=state.at)

    @activity.defn(name=contract.READ_STARTING_HOLDS)
    async def read_starting_holds(self, sequence_id: str) -> StartingHolds:
        """The sequence's newest pause/resume and its sender's vacations."""
        sequence = await self.read_sequence_state(sequence_id)
        found = await PauseBarrier(self.store).vacations_for(sequence_id)
        if found is None:
            return StartingHolds(sequence=sequence)
        sender_id, version, spans = found
        told = SenderVacations(sender_id=sender_id, version=version, vacations=spans)
        return StartingHolds(sequence=sequence, vacations=told)
