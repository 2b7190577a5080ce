"""Fault test: `kill -9` the worker again and again while it sends; nothing goes out twice and
nothing is lost silently.

A real dev server, a real SMTP server (slowed a little, so hand-overs overlap the kills) and a
real worker process (`python -m worker`) share a SQLite store with the in-process API. 200
recipients walk a 3-step email sequence with second-scale delays while the worker is killed
with SIGKILL several times mid-dispatch and restarted. Once every recipient rests (completed or
error), per recipient × step:

- the SMTP server received it at most once;
- if it was not received, the recipient never got that far, or the ledger flags the step
  (`uncertain`/`claimed`), or the recipient is in `error` on that step — never "sent" per the
  workflow or the ledger yet missing at the SMTP server;
- every ledger row in state `sent` matches exactly one received message.

Run with `-s` to see the counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from store.db import Store
from store.migrate import upgrade_to_head
from store.tables import DeliveryRow, WebhookDeliveryRow
from tests.conftest import TOKEN_SECRET, Api, SmtpSink, api_for, assert_eventually, free_port
from tests.webhook_receiver import Receiver, start_receiver
from workflows.contract import recipient_workflow_id
from workflows.recipient import RecipientWorkflow

pytestmark = [pytest.mark.devserver, pytest.mark.fault]

RECIPIENTS = 200
STEPS = [
    {
        "type": "email",
        "delay": delay,
        "subject": f"Step {n} for {{{{ first_name }}}}",
        "body": f"Message {n}",
    }
    for n, delay in enumerate(["PT0S", "PT4S", "PT4S"], start=1)
]
KILLS = 4
RESTING = {"completed", "error"}


class SlowSmtpSink(SmtpSink):
    """The real SMTP sink, taking 20–50 ms per message: hand-overs overlap the kills."""

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(random.uniform(0.02, 0.05))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SlowSmtpSink]:
    sink = SlowSmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def start_worker(  # type: ignore[no-untyped-def]
    env: WorkflowEnvironment,
    task_queue: str,
    db_url: str,
    smtp: SmtpSink,
    log: Path,
    **extra: str,
):
    environment = {
        **os.environ,
        "SEQFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SEQFLOW_TASK_QUEUE": task_queue,
        "SEQFLOW_TOKEN_SECRET": TOKEN_SECRET,  # a production worker refuses to start without
        "SEQFLOW_DATABASE_URL": db_url,
        "SEQFLOW_SMTP_HOST": smtp.host,
        "SEQFLOW_SMTP_PORT": str(smtp.port),
        **extra,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill9(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=20)


async def list_all(api: Api, sid: str) -> list[dict]:
    items: list[dict] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await api.http.get(f"/v1/sequences/{sid}/recipients", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_kill9_during_dispatch_sends_at_most_once_and_loses_nothing(
    dev_env: WorkflowEnvironment, slow_smtp: SlowSmtpSink, tmp_path: Path
) -> None:
    random.seed(9)
    smtp = slow_smtp
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    log = tmp_path / "worker.log"
    started, wall_start = time.monotonic(), time.time()
    events: list[tuple[float, str]] = []  # the timeline, for a report when something fails

    def mark(what: str) -> None:
        events.append((round(time.monotonic() - started, 2), what))

    worker = start_worker(dev_env, task_queue, db_url, smtp, log)
    mark("worker started")
    try:
        async with api_for(dev_env, store, smtp, task_queue=task_queue) as api:
            sequence = await api.create_sequence(name="Kill -9", steps=STEPS)
            sid = sequence["id"]
            emails = [f"person{i:03d}@example.com" for i in range(RECIPIENTS)]
            enrolled = await api.enroll(sid, *emails)  # one request
            assert len(enrolled) == RECIPIENTS
            mark("enrolled")

            # ---- kill -9 while sends are happening, restart after ~1 s ----------------------
            kills = 0
            for round_ in range(KILLS):
                # Wait until this worker is handing messages over, then strike a moment later.
                target = len(smtp.messages) + (15 if round_ == 0 else 8)
                try:
                    await assert_eventually(
                        _received_at_least(smtp, target), timeout=45, interval=0.02
                    )
                except AssertionError:
                    break  # nothing left to send: every recipient rests already
                await asyncio.sleep(random.uniform(0.0, 0.4))
                in_flight_before = len(smtp.messages)
                kill9(worker)
                kills += 1
                mark(f"kill {kills} (received so far: {in_flight_before})")
                await asyncio.sleep(1)
                worker = start_worker(dev_env, task_queue, db_url, smtp, log)
                mark(f"worker restarted after kill {kills}")
                await asyncio.sleep(random.uniform(2.0, 4.0))
            assert kills >= 3, f"only {kills} kills landed during dispatch: {events}"

            # ---- quiescence -----------------------------------------------------------------
            # The list (the store's projection) for everyone; the workflow itself only for the
            # rows the list still shows moving, now and then: a projection can lag behind.
            settled: dict[str, dict] = {}  # recipient id -> its workflow's view, once resting
            gate = asyncio.Semaphore(20)
            polls = 0

            async def truth(rid: str) -> dict:
                """The workflow's own view: its result once completed (no replay), else a query
                through the API."""
                async with gate:
                    handle = api.client.get_workflow_handle_for(
                        RecipientWorkflow.run, recipient_workflow_id("acme", sid, rid)
                    )
                    described = await handle.describe()
                    if described.status is WorkflowExecutionStatus.COMPLETED:
                        return (await handle.result()).model_dump(mode="json")
                    return await api.recipient(sid, rid)

            async def moving_now() -> list[str]:
                """What the workflows still moving are doing (for a failure message)."""
                rows = await list_all(api, sid)
                found = []
                for row in rows:
                    if row["status"] in RESTING or row["id"] in settled:
                        continue
                    handle = api.client.get_workflow_handle(
                        recipient_workflow_id("acme", sid, row["id"])
                    )
                    described = await handle.describe()
                    pending = [
                        f"{a.activity_type.name} attempt {a.attempt} "
                        f"{a.last_failure.message if a.HasField('last_failure') else ''}"
                        for a in described.raw_description.pending_activities
                    ]
                    found.append(f"{row['id']} list {row['status']}, {described.status}, {pending}")
                    if len(found) == 5:
                        break
                return found

            async def all_resting() -> list[dict]:
                nonlocal polls
                polls += 1
                rows = await list_all(api, sid)
                assert len(rows) == RECIPIENTS
                lagging = [
                    r["id"] for r in rows if r["status"] not in RESTING and r["id"] not in settled
                ]
                if lagging and polls % 5 == 0:
                    for current in await asyncio.gather(*(truth(rid) for rid in lagging)):
                        if current["status"] in RESTING:
                            settled[current["id"]] = current
                moving = Counter(
                    r["status"]
                    for r in rows
                    if r["status"] not in RESTING and r["id"] not in settled
                )
                assert not moving, dict(moving)
                return rows

            try:
                rows = await assert_eventually(all_resting, timeout=240, interval=1.0)
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}\nstill moving, per their workflows: {await moving_now()}\n"
                    f"timeline: {events}; worker log: {log}"
                ) from None
            mark("all recipients resting")
            quiet_since = len(smtp.messages)
            await asyncio.sleep(1.5)  # a straggling hand-over would show up here
            assert len(smtp.messages) == quiet_since, "messages arrived after quiescence"

            # ---- the evidence ---------------------------------------------------------------
            async def final(rid: str) -> dict:
                return settled.get(rid) or await truth(rid)

            views = {v["id"]: v for v in await asyncio.gather(*(final(r["id"]) for r in rows))}
            mark("read every recipient's workflow")
            stale_rows = [r["id"] for r in rows if r["status"] != views[r["id"]]["status"]]
            async with store.sessions() as session:
                ledger = list(
                    await session.scalars(
                        select(DeliveryRow)
                        .where(DeliveryRow.sequence_id == sid)
                        .order_by(DeliveryRow.id)
                    )
                )
            ledger_counts = Counter(row.state for row in ledger)

            received: Counter[tuple[str, int]] = Counter()
            for message in smtp.messages:
                rid, step = message["X-Seqflow-Recipient"], message["X-Seqflow-Step"]
                assert rid is not None and step is not None, dict(message.items())
                received[(rid, int(step))] += 1
            rows_by_key: dict[tuple[str, int], list[DeliveryRow]] = {}
            for row in ledger:
                rows_by_key.setdefault((row.recipient_id, row.step), []).append(row)

            duplicates = {key: n for key, n in received.items() if n > 1}
            lost: list[tuple[str, int]] = []
            for rid, current in views.items():
                error = current["error"]
                for index, record in enumerate(current["steps"]):
                    key = (rid, index)
                    states = [r.state for r in rows_by_key.get(key, [])]
                    if received[key]:
                        continue
                    not_reached = index > current["current_step"] or (
                        index == current["current_step"] and not states
                    )
                    flagged = any(s in ("uncertain", "claimed") for s in states) or (
                        current["status"] == "error"
                        and error is not None
                        and error["step"] == index
                    )
                    said_sent = record["state"] == "sent" or "sent" in states
                    if said_sent or not (not_reached or flagged):
                        lost.append(key)
            unmatched_sent = [
                (row.recipient_id, row.step)
                for row in ledger
                if row.state == "sent" and received[(row.recipient_id, row.step)] != 1
            ]
            # A message that went out must be on the ledger as sent or flagged, never as
            # failed/released (a later attempt could send it again).
            unledgered = [
                key
                for key in received
                if not any(
                    r.state in ("sent", "uncertain", "claimed") for r in rows_by_key.get(key, [])
                )
            ]

            statuses = Counter(v["status"] for v in views.values())
            causes = Counter(v["error"]["cause"] for v in views.values() if v["error"])
            uncertain_steps = sum(
                1
                for key in rows_by_key
                if not received[key]
                and any(r.state in ("uncertain", "claimed") for r in rows_by_key[key])
            )
            # In error, yet the step did reach the SMTP server (a retry by a person resends it).
            errors_received = sum(
                1
                for rid, v in views.items()
                if v["status"] == "error" and v["error"] and received[(rid, v["error"]["step"])]
            )
            elapsed = time.monotonic() - started
            table = [
                ("recipients", RECIPIENTS),
                ("steps expected", RECIPIENTS * len(STEPS)),
                ("received", len(smtp.messages)),
                ("received distinct", len(received)),
                ("duplicates", sum(n - 1 for n in duplicates.values())),
                ("ledger rows", " ".join(f"{k}={v}" for k, v in sorted(ledger_counts.items()))),
                ("uncertain (ledger)", ledger_counts["uncertain"] + ledger_counts["claimed"]),
                ("  of which not received", uncertain_steps),
                ("error", statuses["error"]),
                ("  causes", " ".join(f"{k}={v}" for k, v in sorted(causes.items())) or "-"),
                ("  whose step did arrive", errors_received),
                ("completed", statuses["completed"]),
                ("list rows stale", len(stale_rows)),
                ("lost silently", len(lost)),
                ("kills", kills),
                ("elapsed s", f"{elapsed:.1f}"),
            ]
            width = max(len(name) for name, _ in table)
            print("\n" + "\n".join(f"{name:<{width}}  {value}" for name, value in table))
            print("timeline: " + "; ".join(f"{t}s {what}" for t, what in events))
            if stale_rows:
                print(f"list rows whose status lags the workflow: {stale_rows[:5]}...")

            def evidence(key: tuple[str, int]) -> str:
                rid, step = key
                ledger_rows = [
                    f"#{r.id} key={r.dispatch_key} {r.state} "
                    f"claimed@{_since(r.claimed_at, wall_start)} "
                    f"updated@{_since(r.updated_at, wall_start)}"
                    for r in rows_by_key.get(key, [])
                ]
                arrivals = [
                    f"{at - wall_start:.2f}s"
                    for m, at in zip(smtp.messages, smtp.received_at, strict=True)
                    if m["X-Seqflow-Recipient"] == rid and m["X-Seqflow-Step"] == str(step)
                ]
                history = [
                    f"{_since(datetime.fromisoformat(e['at']), wall_start)} {e['kind']} "
                    f"{ {k: v for k, v in e['details'].items() if k != 'step'} }"
                    for e in views[rid]["timeline"]
                    if e["details"].get("step") == step
                ]
                return (
                    f"{rid} step {step}: received at {arrivals}; ledger {ledger_rows}; "
                    f"workflow {views[rid]['status']} {history}"
                )

            assert not duplicates, (
                "sent more than once:\n"
                + "\n".join(evidence(key) for key in duplicates)
                + f"\ntimeline: {events}; worker log: {log}"
            )
            assert not lost, "lost silently:\n" + "\n".join(evidence(key) for key in lost)
            assert not unmatched_sent, "ledger says sent:\n" + "\n".join(
                evidence(key) for key in unmatched_sent
            )
            assert not unledgered, "received, yet the ledger says not sent:\n" + "\n".join(
                evidence(key) for key in unledgered
            )
            assert statuses["completed"] + statuses["error"] == RECIPIENTS, statuses
    finally:
        kill9(worker)
        await store.close()


async def test_kill9_while_webhooks_are_delivered_loses_none_and_keeps_their_ids(
    dev_env: WorkflowEnvironment, smtp: SmtpSink, tmp_path: Path
) -> None:
    """A real receiver answering slowly, the worker killed twice mid-delivery: every event
    arrives, and an event sent again (posted, then killed before it was logged) carries the
    same webhook-id and body as its first delivery."""
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    log = tmp_path / "worker.log"
    receiver = start_receiver(delay=0.03)
    hooks_env = {"SEQFLOW_DEV_MODE": "true", "SEQFLOW_WEBHOOK_POLL": "PT0.1S"}
    worker = start_worker(dev_env, task_queue, db_url, smtp, log, **hooks_env)
    try:
        async with api_for(
            dev_env,
            store,
            smtp,
            task_queue=task_queue,
            dev_mode=True,
            webhook_first_retry=timedelta(seconds=0.5),
        ) as api:
            created = await api.http.post(
                "/v1/webhooks",
                json={
                    "url": receiver.url,
                    "events": ["recipient.step_sent", "recipient.status_changed"],
                },
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            sequence = await api.create_sequence(name="Kill -9 hooks", steps=STEPS[:1])
            await api.enroll(sequence["id"], *[f"h{i:03d}@example.com" for i in range(60)])
            for _ in range(2):
                await assert_eventually(
                    lambda n=len(receiver.received) + 15: _received_hooks(receiver, n),
                    timeout=60,
                    interval=0.02,
                )
                kill9(worker)
                await asyncio.sleep(1)
                worker = start_worker(dev_env, task_queue, db_url, smtp, log, **hooks_env)

            # Each recipient: its step sent, then in_progress -> completed.
            expected = 60 * 2

            async def all_delivered() -> None:
                async with store.sessions() as session:
                    rows = list(await session.scalars(select(WebhookDeliveryRow)))
                assert len(rows) == expected
                assert {r.state for r in rows} == {"delivered"}

            await assert_eventually(all_delivered, timeout=120, interval=0.5)
            by_id: dict[str, set[bytes]] = {}
            for got in receiver.received:
                by_id.setdefault(got.headers["webhook-id"], set()).add(got.body)
            assert len(by_id) == expected  # none lost
            assert all(len(bodies) == 1 for bodies in by_id.values())  # a resend is the same
            events = [json.loads(next(iter(b))) for b in by_id.values()]
            keys = {(e["data"]["recipient_id"], e["data"]["seq"]) for e in events}
            assert len(keys) == expected  # no event under two ids
            verifier = Webhook(endpoint["secret"])
            for got in receiver.received:
                verifier.verify(got.body, got.headers)
            print(
                f"\nwebhooks: {expected} events, {len(receiver.received)} posts "
                f"({len(receiver.received) - expected} sent again after a kill)"
            )
    finally:
        kill9(worker)
        receiver.close()
        await store.close()


async def _received_hooks(receiver: Receiver, count: int) -> None:
    assert len(receiver.received) >= count


def _since(at: datetime, wall_start: float) -> str:
    """A stored or reported time, in seconds since the test started."""
    if at.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        at = at.replace(tzinfo=UTC)
    return f"{at.timestamp() - wall_start:.2f}s"


def _received_at_least(smtp: SmtpSink, count: int):  # type: ignore[no-untyped-def]
    async def check() -> None:
        assert len(smtp.messages) >= count, len(smtp.messages)

    return check
