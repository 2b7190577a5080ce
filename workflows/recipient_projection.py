"""What the world sees of a recipient: its view (the query and every update's answer), its
content panel, its line in the Temporal UI, and its projection into the store.

Temporal is the truth; the store keeps the newest projection (by `version`) so the API can
list and count without asking Temporal. The workflow projects after every change through a
local activity, or hands the projection to the sequence fan-out, which writes a whole page of
them in one statement. A projection that failed is retried shortly (the loop wakes for it).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.projection import StoreProjector
    from domain.models import Announced
    from domain.outbound import OutboundEvent, recipient_events
    from domain.recipient import Recipient
    from domain.statuses import DispatchOutcome
    from workflows.contract import STATUS_KEY, STEP_KEY
    from workflows.models import (
        ContentView,
        RecipientInput,
        RecipientProjection,
        RecipientView,
    )

PROJECTION_TIMEOUT = timedelta(seconds=10)
PROJECTION_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=5))
PROJECTION_RECHECK = timedelta(seconds=30)


class RecipientShown:
    def __init__(self, recipient: Recipient, input: RecipientInput) -> None:
        self._recipient = recipient
        self._input = input
        self._lock = asyncio.Lock()
        self._projected_version = -1
        st = recipient.state
        if st.announced is None:  # enrolled now, or running since before outbound events
            st.announced = Announced(entries=len(st.timeline), status=st.status)
        # Ending: the last projection carries the kept view, and is ours to write.
        self.final = False
        # The store missed our last change: the loop wakes soon to project it again.
        self.stale = False

    # ---- the view ----------------------------------------------------------------------------

    def view(self, in_flight: DispatchOutcome | None = None) -> RecipientView:
        recipient = self._recipient
        st = recipient.state
        return RecipientView(
            id=self._input.recipient_id,
            sequence_id=self._input.sequence_id,
            contact_id=self._input.contact_id,
            contact=self._input.contact,
            status=st.status,
            current_step=st.current_step,
            next_step_at=recipient.next_step_at(),
            pause=st.pause,
            error=st.error,
            allowed_actions=[a.value for a in recipient.allowed()],
            steps=st.steps,
            timeline=st.timeline,
            in_flight=in_flight,
            holds=recipient.holds(),
        )

    def content(self, *, dispatching: bool) -> list[ContentView]:
        """Per step: its content as this recipient will get it (templates unrendered: the
        API renders them off the workflow, under the template budget)."""
        recipient = self._recipient
        return [
            ContentView(
                index=index,
                type=step.type,
                state=recipient.state.steps[index].state,
                resolved=None,
                content=recipient.content_for(index),
                edited=index in recipient.state.content_overrides,
                editable=recipient.step_editable(index, dispatching=dispatching),
            )
            for index, step in enumerate(recipient.definition.steps)
        ]

    # ---- the store ---------------------------------------------------------------------------

    async def sync(self) -> None:
        """Show the newest state in the Temporal UI and project it into the store."""
        st = self._recipient.state
        if self._projected_version == st.version:
            return
        async with self._lock:
            version = st.version
            if self._projected_version >= version:
                return
            next_at = self._show()
            projection = self._projection(version, next_at)
            try:
                await workflow.execute_local_activity_method(
                    StoreProjector.project_recipient,
                    projection,
                    start_to_close_timeout=PROJECTION_TIMEOUT,
                    retry_policy=PROJECTION_RETRY,
                )
            except (ActivityError, TimeoutError, TemporalTimeoutError):
                # (A local activity's timeout surfaces as a bare TimeoutError on replay.)
                # The store is unreachable: the recipient goes on (Temporal is the truth) and
                # projects again shortly (see RecipientWorkflow._sleep_until).
                workflow.logger.warning("projection of version %s failed", version)
                self.stale = True
                assert st.announced is not None
                unwritten = [e.model_dump(mode="json") for e in projection.events]
                st.announced.unwritten = unwritten + st.announced.unwritten
                return
            self._projected_version = max(self._projected_version, version)
            self.stale = False

    def handed(self) -> RecipientProjection | None:
        """Show the newest state and hand its projection to a caller that writes it (None once
        ending: the final projection, with the kept view, is ours to write)."""
        recipient = self._recipient
        st = recipient.state
        if self.final:
            return None
        next_at = self._show() if self._projected_version < st.version else recipient.next_step_at()
        self._projected_version = max(self._projected_version, st.version)
        self.stale = False
        projection = self._projection(st.version, next_at)
        # The caller's write may fail or never happen (its worker dies): our next projection
        # carries these events again (the store keeps an event once, by its id).
        assert st.announced is not None
        st.announced.unwritten = [e.model_dump(mode="json") for e in projection.events]
        return projection

    def _show(self) -> datetime | None:
        """The state in the Temporal UI: search attributes and a one-line summary."""
        recipient = self._recipient
        st = recipient.state
        steps = len(recipient.definition.steps)
        next_at = recipient.next_step_at()
        workflow.upsert_search_attributes(
            [STATUS_KEY.value_set(st.status.value), STEP_KEY.value_set(st.current_step)]
        )
        summary = f"{st.status.value} · step {min(st.current_step + 1, steps)}/{steps}"
        if st.current_step < steps:
            summary += f" · {recipient.definition.steps[st.current_step].type.value}"
        if next_at:
            summary += f" · due {next_at:%Y-%m-%d %H:%M} UTC"
        workflow.set_current_details(summary)
        return next_at

    def _projection(self, version: int, next_at: datetime | None) -> RecipientProjection:
        """The projection, with the outbound events since the last one (the store writes them
        in the same transaction; if it fails, the next projection carries them)."""
        st = self._recipient.state
        ids = {
            "recipient_id": self._input.recipient_id,
            "sequence_id": self._input.sequence_id,
            "contact_id": self._input.contact_id,
        }
        assert st.announced is not None
        unwritten = [OutboundEvent.model_validate(e) for e in st.announced.unwritten]
        events, st.announced = recipient_events(ids, st.announced, st.timeline, st.status, st.pause)
        return RecipientProjection(
            workspace=self._input.workspace,
            sequence_id=self._input.sequence_id,
            recipient_id=self._input.recipient_id,
            status=st.status,
            current_step=st.current_step,
            next_step_at=next_at,
            pause_source=st.pause.source if st.pause else None,
            pause_reason=st.pause.reason if st.pause else None,
            pause_until=st.pause.until if st.pause else None,
            version=version,
            error_cause=st.error.cause if st.error else None,
            final_view=self.view().model_dump(mode="json") if self.final else None,
            events=unwritten + events,
        )
