"""Record recipient histories for the replay test: `python -m tests.workflows.record_histories`.

Run it when a deliberate, patched() workflow change needs new reference histories. Files that
exist are kept as they are (recipients started before the change are still running in
production); delete one to record it again.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.testing import WorkflowEnvironment

from domain.outbound import EventType, OutboundEvent
from domain.statuses import StepType
from store.accounts import Accounts
from store.db import Store
from store.migrate import upgrade_to_head
from store.webhooks import Webhooks
from tests.conftest import (
    TEST_SERVER,
    SmtpSink,
    free_port,
    register_search_attributes,
    running_worker,
)
from tests.webhook_receiver import start_receiver
from tests.workflows.harness import Harness, sequence, step
from workflows.client import DATA_CONVERTER
from workflows.launch import start_webhook_endpoint
from workflows.models import (
    EditContentRequest,
    InboundEvent,
    SenderChange,
    SenderVacations,
    SequenceStateChange,
    StepContent,
    StepContentChange,
    Vacation,
    WebhookEndpointInput,
)
from workflows.recipient import RecipientWorkflow

OUT = Path(__file__).parent / "histories"
DAY = timedelta(days=1)


async def record() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER, test_server_existing_path=TEST_SERVER
    )
    await register_search_attributes(env.client)
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/s.db"
        await upgrade_to_head(url)
        store = Store.connect(url)
        async with running_worker(env.client, store, {StepType.EMAIL: sink.channel()}) as worker:
            h = Harness(env, worker.task_queue)
            # 1. pause / resume / skip / complete over email and task steps
            a = await h.start(
                sequence(
                    step("email", timedelta(0)),
                    step("email", 4 * DAY),
                    step("task", DAY),
                    step("email", DAY),
                    step("email", DAY),
                )
            )
            await h.until(a, lambda v: v.steps[0].state == "sent")
            await h.advance(2 * DAY)
            await h.pause(a, reason="holiday", note="back soon")
            await h.advance(3 * DAY)
            await h.resume(a)
            await h.advance(3 * DAY)
            await h.until(a, lambda v: v.status.value == "pending_action")
            await a.execute_update(RecipientWorkflow.complete_task, _actor())
            await h.skip(a)
            await a.result()
            # 2. an error fixed by editing content, then a reply
            b = await h.start(
                sequence(step("email", timedelta(0), body="{{ nickname }}"), step("email", DAY))
            )
            await h.until(b, lambda v: v.status.value == "error")
            await b.execute_update(
                RecipientWorkflow.edit_content,
                EditContentRequest(step=0, content=StepContent(body="Hi {{ first_name }}")),
            )
            await h.until(b, lambda v: v.steps[0].state == "sent")
            await b.signal(RecipientWorkflow.inbound, InboundEvent(event_id="e1", kind="reply"))
            await b.result()
            # 3. continue-as-new
            c = await h.start(
                sequence(step("email", timedelta(0)), *[step("email", DAY) for _ in range(5)]),
                history_event_limit=40,
            )
            await c.result()
            # 4. the sequence's changes: pause/resume by the fan-out's update, content, sender
            d = await h.start(sequence(step("email", timedelta(0)), step("email", 4 * DAY)))
            await h.until(d, lambda v: v.steps[0].state == "sent")
            await h.advance(DAY)
            now = await h.now()
            for epoch, paused in ((1, True), (2, False)):
                change = SequenceStateChange(epoch=epoch, paused=paused, at=now)
                await d.execute_update(RecipientWorkflow.apply_sequence_state, change)
            content = StepContentChange(version=2, step=1, content=StepContent(body="New"))
            await d.signal(RecipientWorkflow.sequence_content, content)
            sender = SenderChange(
                version=3, sender_id="snd_gone", at=now, sequence_paused=False, epoch=2
            )
            await d.signal(RecipientWorkflow.sequence_sender, sender)
            await h.until(d, lambda v: v.status.value == "paused")
            await h.resume(d)
            await h.advance(3 * DAY)  # due: the new sender does not exist, so it errs
            await h.until(d, lambda v: v.status.value == "error")
            await d.terminate("recorded")
            # 6. holds composed: a sender's vacation, a sequence pause on top, lifted in turn
            away = await Accounts(store).create_sender("acme", "Ada", "ada@acme.com", None)
            f = await h.start(
                sequence(step("email", timedelta(0)), step("email", 6 * DAY), sender_id=away.id)
            )
            await h.until(f, lambda v: v.steps[0].state == "sent")
            await h.advance(DAY)
            now = await h.now()
            told = SenderVacations(
                sender_id=away.id, version=1, vacations=[Vacation(start=now, end=now + 2 * DAY)]
            )
            await f.signal(RecipientWorkflow.sender_vacations, told)
            await h.until(f, lambda v: v.status.value == "paused")
            await h.advance(DAY)
            held = SequenceStateChange(epoch=1, paused=True, at=await h.now())
            await f.execute_update(RecipientWorkflow.apply_sequence_state, held)
            await h.advance(2 * DAY)  # the vacation ends; the sequence still holds
            released = SequenceStateChange(epoch=2, paused=False, at=await h.now())
            await f.execute_update(RecipientWorkflow.apply_sequence_state, released)
            await h.until(f, lambda v: v.status.value == "in_progress")
            await f.terminate("recorded")
            # 5. a webhook endpoint's deliverer: a batch, a failure retried with back-off
            receiver = start_receiver(fail_first=1)
            hooks = Webhooks(store)
            endpoint = await hooks.create("acme", receiver.url, [], None, False)
            for n in range(3):
                ping = OutboundEvent(
                    id=f"evt_rec_{n}", type=EventType.PING, at=await h.now(), data={"n": n}
                )
                await hooks.ping(endpoint.id, ping)
            e = await start_webhook_endpoint(
                env.client,
                worker.task_queue,
                WebhookEndpointInput(
                    workspace="acme",
                    endpoint_id=endpoint.id,
                    first_retry=timedelta(seconds=0.2),
                    max_retry=timedelta(seconds=1),
                    give_up_after=timedelta(minutes=5),
                ),
            )
            for _ in range(200):
                if len(receiver.received) >= 3:
                    break
                await asyncio.sleep(0.1)
            receiver.close()
            await e.terminate("recorded")
            histories = {
                "pause_resume_skip_task": a,
                "error_edit_reply": b,
                "continue_as_new_first_run": env.client.get_workflow_handle(
                    c.id, run_id=c.first_execution_run_id
                ),
                "sequence_changes": d,
                "webhook_endpoint_retry": e,
                "holds_composed": f,
            }
            for name, handle in histories.items():
                path = OUT / f"{name}.json"
                if not path.exists():
                    path.write_text((await handle.fetch_history()).to_json())
        await store.close()
    controller.stop()
    await env.shutdown()


def _actor():  # type: ignore[no-untyped-def]
    from workflows.models import ActionRequest

    return ActionRequest(actor="recorder")


if __name__ == "__main__":
    asyncio.run(record())
