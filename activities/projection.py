"""Projection of recipient state into the store (a local activity: cheap, ordered by version)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from store.db import Store, as_utc
from workflows.models import RecipientProjection, SequenceStateChange


class StoreProjector:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="project_recipient")
    async def project_recipient(self, projection: RecipientProjection) -> bool:
        return await self.store.project_recipient(
            projection.recipient_id,
            status=projection.status.value,
            current_step=projection.current_step,
            next_step_at=projection.next_step_at,
            pause_source=projection.pause_source,
            version=projection.version,
            error_cause=projection.error_cause,
            final_view=projection.final_view,
        )

    @activity.defn(name="read_sequence_state")
    async def read_sequence_state(self, sequence_id: str) -> SequenceStateChange:
        """The sequence's newest acknowledged pause/resume (epoch 0: never changed)."""
        state = await self.store.sequence_state(sequence_id)
        at = state[2] if state else None
        if state is None or at is None:
            return SequenceStateChange(epoch=0, paused=False, at=datetime.now(UTC))
        status, epoch = state[0], state[1]
        at = as_utc(at)
        return SequenceStateChange(epoch=epoch, paused=status == "paused", at=at)
