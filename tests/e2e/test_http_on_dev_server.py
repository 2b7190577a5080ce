"""End to end on a real dev server: HTTP in, real worker, real SMTP out, second-scale delays."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.channels import OutboundMessage, SmtpEmailChannel
from domain.statuses import StepType
from store.db import Store
from store.migrate import upgrade_to_head
from store.recipients import Recipients
from tests.conftest import TOKEN_SECRET, Api, SmtpSink, api_for, assert_eventually, text_of

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "One"},
    {"type": "email", "delay": "PT3S", "subject": "Re: Hi {{ first_name }}", "body": "Two"},
    {"type": "email", "delay": "PT3S", "subject": "Last note, {{ first_name }}", "body": "3"},
]


async def wait_status(api: Api, sid: str, rid: str, status: str, timeout: float = 30) -> dict:
    async def check() -> dict:
        current = await api.recipient(sid, rid)
        assert current["status"] == status, current["status"]
        return current

    return await assert_eventually(check, timeout=timeout)  # type: ignore[no-any-return]


async def test_three_emails_with_real_delays(dev_api: Api, smtp: SmtpSink) -> None:
    sequence = await dev_api.create_sequence(steps=STEPS)
    ada, bob = await dev_api.enroll(sequence["id"], "ada@example.com", "bob@example.com")
    for person in (ada, bob):
        done = await wait_status(dev_api, sequence["id"], person["id"], "completed")
        assert [s["state"] for s in done["steps"]] == ["sent"] * 3
    to_ada = smtp.to("ada@example.com")
    assert [m["Subject"] for m in to_ada] == ["Hi Ada", "Re: Hi Ada", "Last note, Ada"]
    assert text_of(to_ada[1]).strip() == "Two"
    times = [t for m, t in zip(smtp.messages, smtp.received_at, strict=True) if m in to_ada]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(2.5 <= gap <= 6 for gap in gaps), gaps
    listed = await dev_api.http.get(f"/v1/sequences/{sequence['id']}/recipients?status=completed")
    assert {row["id"] for row in listed.json()["items"]} == {ada["id"], bob["id"]}
    counts = (await dev_api.http.get(f"/v1/sequences/{sequence['id']}")).json()["counts"]
    assert counts == {"completed": 2}
    reporting = (await dev_api.http.get(f"/v1/sequences/{sequence['id']}")).json()
    assert reporting["sends_per_step"] == {"0": 2, "1": 2, "2": 2}


class BlockingChannel:
    """Holds every message until the test releases it — a dispatch caught mid-flight."""

    def __init__(self, inner: SmtpEmailChannel) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: OutboundMessage) -> str:
        self.entered.set()
        await self.release.wait()
        return await self.inner.send(message)


@pytest.fixture
async def blocking_api(
    dev_env: WorkflowEnvironment, store: Store, smtp: SmtpSink
) -> AsyncIterator[tuple[Api, BlockingChannel]]:
    channel = BlockingChannel(smtp.channel())
    async with api_for(dev_env, store, smtp, channels={StepType.EMAIL: channel}) as api:
        yield api, channel


async def test_pause_during_dispatch_cancels_it_and_resume_sends_once(
    blocking_api: tuple[Api, BlockingChannel], smtp: SmtpSink
) -> None:
    api, channel = blocking_api
    sequence = await api.create_sequence(steps=STEPS[:1])
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    await asyncio.wait_for(channel.entered.wait(), 20)

    paused = await api.http.post(f"/v1/sequences/{sequence['id']}/recipients/{ada['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.json()["in_flight"] == "cancelled"
    assert paused.json()["steps"][0]["state"] == "pending"  # attempted again after resume

    channel.release.set()
    await asyncio.sleep(1.5)
    assert smtp.messages == []  # nothing went out after the pause was acknowledged

    resumed = await api.http.post(f"/v1/sequences/{sequence['id']}/recipients/{ada['id']}/resume")
    assert resumed.status_code == 200
    await wait_status(api, sequence["id"], ada["id"], "completed")
    assert len(smtp.to("ada@example.com")) == 1


def start_worker(env: WorkflowEnvironment, task_queue: str, db_url: str, smtp: SmtpSink):  # type: ignore[no-untyped-def]
    environment = {
        **os.environ,
        "SEQFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SEQFLOW_TASK_QUEUE": task_queue,
        "SEQFLOW_TOKEN_SECRET": TOKEN_SECRET,  # a production worker refuses to start without
        "SEQFLOW_DATABASE_URL": db_url,
        "SEQFLOW_SMTP_HOST": smtp.host,
        "SEQFLOW_SMTP_PORT": str(smtp.port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def test_worker_killed_mid_delay_keeps_time_place_and_pause(
    dev_env: WorkflowEnvironment, smtp: SmtpSink, tmp_path: Path
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    worker = start_worker(dev_env, task_queue, db_url, smtp)
    try:
        async with api_for(dev_env, store, smtp, task_queue=task_queue) as api:
            steps = [STEPS[0], {**STEPS[1], "delay": "PT8S"}]
            sequence = await api.create_sequence(steps=steps)
            ada, bob = await api.enroll(sequence["id"], "ada@example.com", "bob@example.com")
            for person in (ada, bob):
                await assert_eventually(
                    lambda p=person: _first_sent(api, sequence["id"], p["id"]), timeout=30
                )
            path = f"/v1/sequences/{sequence['id']}/recipients/{bob['id']}"
            paused = (await api.http.post(f"{path}/pause", json={"note": "call first"})).json()
            assert paused["status"] == "paused"

            os.killpg(worker.pid, signal.SIGKILL)  # kill -9 in the middle of the delay
            worker.wait()
            await asyncio.sleep(3)
            worker = start_worker(dev_env, task_queue, db_url, smtp)

            done = await wait_status(api, sequence["id"], ada["id"], "completed", timeout=40)
            first, second = (s["at"] for s in done["steps"])
            from datetime import datetime

            gap = (datetime.fromisoformat(second) - datetime.fromisoformat(first)).total_seconds()
            # Never early; late by at most the sticky-queue timeout (10 s): the task that was
            # bound to the dead worker is handed to the new one once that timeout passes.
            assert 7.5 <= gap <= 8 + 10 + 3, gap

            # (Bob's workflow was cached by the dead worker: until the server hands its tasks
            # to the new one, ~10 s, reading it answers 503 with Retry-After.)
            still = await wait_status(api, sequence["id"], bob["id"], "paused", timeout=30)
            assert still["pause"]["note"] == "call first"
            assert still["current_step"] == 1
            await api.http.post(f"{path}/resume")
            await wait_status(api, sequence["id"], bob["id"], "completed", timeout=40)
            ids = [m["Message-ID"] for m in smtp.messages]
            assert len(ids) == 4 and len(set(ids)) == 4  # nothing sent twice
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
        await store.close()


async def _first_sent(api: Api, sid: str, rid: str) -> None:
    current = await api.recipient(sid, rid)
    assert current["steps"][0]["state"] == "sent"


async def test_delete_erases_the_workflow_history_and_the_row(dev_api: Api) -> None:
    sequence = await dev_api.create_sequence(steps=STEPS)
    [ada] = await dev_api.enroll(sequence["id"], "ada@example.com")
    await wait_status(dev_api, sequence["id"], ada["id"], "in_progress")
    path = f"/v1/sequences/{sequence['id']}/recipients/{ada['id']}"
    deleted = await dev_api.http.delete(path)
    assert deleted.json() == {"id": ada["id"], "status": "deleted"}
    assert (await dev_api.http.get(path)).status_code == 404
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.contract import recipient_workflow_id

    handle = dev_api.client.get_workflow_handle(
        recipient_workflow_id("acme", sequence["id"], ada["id"])
    )

    async def history_gone() -> None:
        try:
            await handle.describe()
        except RPCError as exc:
            assert exc.status is RPCStatusCode.NOT_FOUND
            return
        raise AssertionError("the execution still exists")

    await assert_eventually(history_gone, timeout=20)
    listed = await dev_api.http.get(f"/v1/sequences/{sequence['id']}/recipients")
    assert listed.json()["items"] == []


async def test_an_ended_recipient_is_still_shown_after_temporal_forgets_it(dev_api: Api) -> None:
    sequence = await dev_api.create_sequence(steps=STEPS[:1])
    [ada] = await dev_api.enroll(sequence["id"], "ada@example.com")
    done = await wait_status(dev_api, sequence["id"], ada["id"], "completed")
    from sqlalchemy import update

    from store.tables import RecipientRow

    async def projected_final() -> None:
        row = await Recipients(dev_api.store).get("acme", sequence["id"], ada["id"])
        assert row is not None and row.final_view is not None

    await assert_eventually(projected_final)
    # What Temporal's retention leaves behind: a store row whose workflow history is gone.
    # (Re-keying the row points it at a workflow id Temporal never had.)
    gone = "rcp_0000000000000000gone00"
    async with dev_api.store.sessions.begin() as session:
        await session.execute(
            update(RecipientRow).where(RecipientRow.id == ada["id"]).values(id=gone)
        )
    view = await dev_api.recipient(sequence["id"], gone)
    assert view["status"] == "completed" and view["steps"] == done["steps"]
