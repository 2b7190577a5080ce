"""Projection of recipient state into the store (a local activity: cheap, ordered by version)."""

from __future__ import annotations

from temporalio import activity

from store.db import Store
from workflows.models import RecipientProjection


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
        )
