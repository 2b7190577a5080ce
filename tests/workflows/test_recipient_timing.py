"""Recipient delays on the time-skipping server: days pass in milliseconds."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from domain.statuses import RecipientStatus, StepType
from store.db import Store
from tests.conftest import SmtpSink, running_worker
from workflows.launch import start_recipient
from workflows.models import (
    Contact,
    RecipientInput,
    SequenceDefinition,
    StepContent,
    StepDefinition,
)


def email_steps(*delays: timedelta) -> SequenceDefinition:
    return SequenceDefinition(
        name="Backend engineers",
        steps=[
            StepDefinition(
                type=StepType.EMAIL,
                delay=delay,
                content=StepContent(subject=f"Step {i} for {{{{ first_name }}}}", body="Hello"),
            )
            for i, delay in enumerate(delays)
        ],
    )


def recipient_input(definition: SequenceDefinition, email: str = "ada@example.com"):
    return RecipientInput(
        workspace="acme",
        sequence_id="seq_test",
        recipient_id=f"rcp_{uuid.uuid4().hex[:10]}",
        contact_id="con_1",
        contact=Contact(email=email, first_name="Ada"),
        definition=definition,
    )


async def test_three_emails_at_t0_plus_2d_plus_5d(
    ts_env: WorkflowEnvironment, smtp: SmtpSink, store: Store
) -> None:
    definition = email_steps(timedelta(0), timedelta(days=2), timedelta(days=3))
    channels = {StepType.EMAIL: smtp.channel()}
    async with running_worker(ts_env.client, store, channels) as worker:
        t0 = await ts_env.get_current_time()
        handle = await start_recipient(
            ts_env.client,
            worker.task_queue,
            recipient_input(definition),
            RecipientStatus.IN_PROGRESS,
        )
        final = await handle.result()

    assert final.status is RecipientStatus.COMPLETED
    assert [m["Subject"] for m in smtp.to("ada@example.com")] == [
        "Step 0 for Ada",
        "Step 1 for Ada",
        "Step 2 for Ada",
    ]
    sent_at = [step.at for step in final.steps]
    assert all(at is not None for at in sent_at)
    offsets = [at - t0 for at in sent_at]  # type: ignore[operator]
    for offset, expected in zip(offsets, [0, 2, 5], strict=True):
        assert abs(offset - timedelta(days=expected)) < timedelta(minutes=1), offsets
    # Message-IDs are stable per recipient and step.
    ids = [m["Message-ID"] for m in smtp.messages]
    assert ids == [f"<{final.id}.{i}@seqflow>" for i in range(3)]
