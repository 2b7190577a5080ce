"""A recipient under its sequence's changes, in whatever order the fan-outs reach it.

The sequence workflow acknowledges a pause/resume or a sender change at a moment; the recipient
applies each as of that moment. These tests deliver them straight (no fan-out) and out of order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.statuses import RecipientStatus
from store.db import Store
from tests.conftest import SmtpSink, running_worker
from tests.workflows.harness import Harness, sequence, step
from workflows.models import RecipientView, SenderChange, SequenceStateChange
from workflows.recipient import RecipientWorkflow

S = RecipientStatus


@pytest.fixture
async def harness(
    ts_env: WorkflowEnvironment, smtp: SmtpSink, store: Store
) -> AsyncIterator[Harness]:
    async with running_worker(ts_env.client, store, {}) as worker:
        harness = Harness(ts_env, worker.task_queue)
        yield harness
        await harness.terminate_all()


async def waiting_recipient(harness: Harness) -> WorkflowHandle[RecipientWorkflow, RecipientView]:
    """In progress, its first email four days away (nothing is sent during the test)."""
    handle = await harness.start(sequence(step("email", timedelta(days=4)), sender_id="snd_old"))
    await harness.until(handle, lambda v: v.next_step_at is not None)
    return handle


def sender_change(at: datetime, sequence_paused: bool = False) -> SenderChange:
    return SenderChange(
        version=2, sender_id="snd_new", at=at, sequence_paused=sequence_paused, epoch=0
    )


async def test_a_sender_change_pauses_a_running_recipient_as_of_its_acknowledgement(
    harness: Harness,
) -> None:
    handle = await waiting_recipient(harness)
    due = (await harness.view(handle)).next_step_at
    assert due is not None
    acknowledged = await harness.now() - timedelta(hours=1)  # the fan-out reached us late
    await handle.signal(RecipientWorkflow.sequence_sender, sender_change(acknowledged))
    paused = await harness.until(handle, lambda v: v.status is S.PAUSED)
    assert paused.pause is not None
    assert (paused.pause.source, paused.pause.reason) == ("recipient", "sender_changed")
    assert paused.pause.paused_at >= acknowledged  # never before what last happened to it
    # A sequence pause and resume after it leave the person's decision standing.
    now = await harness.now()
    for epoch, is_paused in ((1, True), (2, False)):
        change = SequenceStateChange(epoch=epoch, paused=is_paused, at=now)
        await handle.signal(RecipientWorkflow.sequence_state, change)
    held = await harness.until(handle, lambda v: "sender_changed" in [e.kind for e in v.timeline])
    assert held.status is S.PAUSED and held.pause and held.pause.reason == "sender_changed"
    resumed = await harness.resume(handle)
    assert resumed.status is S.IN_PROGRESS


async def test_a_sequence_pause_that_overtook_the_sender_change_becomes_a_persons_pause(
    harness: Harness,
) -> None:
    handle = await waiting_recipient(harness)
    now = await harness.now()
    pause = SequenceStateChange(epoch=1, paused=True, at=now)
    await handle.signal(RecipientWorkflow.sequence_state, pause)
    await harness.until(handle, lambda v: v.pause is not None and v.pause.source == "sequence")
    # Acknowledged before that pause (the sequence was running): we were running then.
    await handle.signal(
        RecipientWorkflow.sequence_sender, sender_change(now - timedelta(seconds=5))
    )
    await handle.signal(
        RecipientWorkflow.sequence_state, SequenceStateChange(epoch=2, paused=False, at=now)
    )
    view = await harness.until(handle, lambda v: [e.kind for e in v.timeline].count("paused") == 2)
    assert view.status is S.PAUSED and view.pause is not None
    assert (view.pause.source, view.pause.reason) == ("recipient", "sender_changed")


async def test_a_sender_change_while_the_sequence_is_paused_waits_for_its_resume(
    harness: Harness,
) -> None:
    handle = await waiting_recipient(harness)
    now = await harness.now()
    await handle.signal(
        RecipientWorkflow.sequence_state, SequenceStateChange(epoch=1, paused=True, at=now)
    )
    await handle.signal(RecipientWorkflow.sequence_sender, sender_change(now, sequence_paused=True))
    await handle.signal(
        RecipientWorkflow.sequence_state, SequenceStateChange(epoch=2, paused=False, at=now)
    )
    view = await harness.until(handle, lambda v: v.status is S.IN_PROGRESS)
    assert "sender_changed" in [e.kind for e in view.timeline]
