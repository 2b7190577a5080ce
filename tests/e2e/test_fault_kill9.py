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

The webhook test kills the worker while it delivers webhooks. The last test runs three
workers on 2,000 recipients (SEQFLOW_FAULT_SCALE_N) and kills one mid-burst of first emails
and one mid-way through a pause's fan-out (docs/operations.md, "Running several workers").

Run with `-s` to see the counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.fanout import PAGE as FAN_OUT_PAGE
from store.db import Store
from store.migrate import upgrade_to_head
from store.tables import DeliveryRow, WebhookDeliveryRow
from tests.conftest import Api, SmtpSink, api_for, assert_eventually, free_port
from tests.e2e.processes import READY, identity, kill9, start_worker, wait_for_log
from tests.webhook_receiver import Receiver, start_receiver
from workflows import contract
from workflows.client import DATA_CONVERTER
from workflows.contract import STATUS_KEY, recipient_workflow_id, sequence_workflow_id
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


# ---- three workers: the work spread over them, one killed mid-burst and one mid-fan-out ------

# 2,000 recipients (the figure); SEQFLOW_FAULT_SCALE_N runs it smaller or larger.
SCALE_N = int(os.environ.get("SEQFLOW_FAULT_SCALE_N", "2000"))
SCALE_WORKERS = 3
SCALE_STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "First"},
    {"type": "email", "delay": "P1D", "subject": "Again", "body": "Second"},
]
ENROLL_BATCH = 1_000  # the API's limit per request


@pytest.mark.timeout(1800)
async def test_three_workers_survive_kill9_mid_send_burst_and_mid_fan_out(
    dev_env: WorkflowEnvironment, smtp: SmtpSink, tmp_path: Path
) -> None:
    """Three `python -m worker` processes on one task queue and store. SCALE_N recipients
    enroll and get their first email; one worker is killed -9 mid-burst (and restarted, so the
    pause starts with three again). The sequence is paused: the worker running the pause's
    fan-out is killed -9 halfway (and left dead: the two survivors must finish on their own).
    The fan-out activity is carried on by a survivor from its heartbeat; then a resume.

    Every recipient ends right: each first email arrived at most once (0 duplicates), exactly
    once unless the ledger flags it uncertain (a claim cut by the kill: the recipient is in
    error with delivery_uncertain, for a person to check); all running recipients paused by
    the pause and back in progress after the resume, per their own workflows and the store.
    """
    n = SCALE_N
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    client = dev_env.client
    started = time.monotonic()
    events: list[tuple[float, str]] = []

    def mark(what: str) -> None:
        events.append((round(time.monotonic() - started, 1), what))
        print(f"  .. {events[-1][0]:7.1f}s {what}", flush=True)

    workers: dict[str, subprocess.Popen[bytes]] = {}  # the live ones, by name
    logs: dict[str, Path] = {}  # every worker's log, the dead ones' too

    def spawn(name: str) -> None:
        logs[name] = tmp_path / f"{name}.log"
        workers[name] = start_worker(dev_env, task_queue, db_url, smtp, logs[name])

    def named(worker_identity: str) -> str:
        return next(name for name, w in workers.items() if identity(w) == worker_identity)

    for i in range(SCALE_WORKERS):
        spawn(f"w{i + 1}")
    try:
        for name, worker in list(workers.items()):
            await wait_for_log(worker, logs[name], READY, timeout=120)
        mark(f"{SCALE_WORKERS} workers ready")
        async with api_for(dev_env, store, smtp, task_queue=task_queue) as api:
            sid = (await api.create_sequence(name="Three workers", steps=SCALE_STEPS))["id"]

            async def count(status: str, step: int | None = None) -> int:
                query = f'SeqflowSequence="{sid}" AND SeqflowStatus="{status}"'
                if step is not None:
                    query += f" AND SeqflowStep={step}"
                return int((await client.count_workflows(query)).count)

            # ---- 1. enrollment and first sends; kill -9 one worker mid-burst, restart it ----
            enroll_started, enroll_wall = time.monotonic(), time.time()
            enrolled: list[dict] = []
            for first in range(0, n, ENROLL_BATCH):
                people = [
                    f"s{i:05d}@example.com" for i in range(first, min(n, first + ENROLL_BATCH))
                ]
                enrolled += await api.enroll(sid, *people)
            enroll_s = time.monotonic() - enroll_started
            assert len(enrolled) == n
            mark(f"enrolled {n} in {enroll_s:.1f} s ({len(smtp.messages)} first emails so far)")

            await assert_eventually(
                _received_at_least(smtp, n * 3 // 10), timeout=600, interval=0.05
            )
            burst_victim = max(workers, key=lambda name: _text_count(logs[name], "sent as"))
            burst_at = len(smtp.messages)
            burst_identity = identity(workers[burst_victim])
            burst_killed = time.time()
            kill9(workers.pop(burst_victim))
            mark(f"kill -9 {burst_victim} mid-burst ({burst_at}/{n} first emails received)")
            await asyncio.sleep(1)
            restarted = f"{burst_victim}-restarted"
            spawn(restarted)
            mark(f"{restarted} started")

            async def first_steps_settled() -> tuple[int, int]:
                running, failed = await count("in_progress", 1), await count("error")
                assert running + failed == n, (running, failed, len(smtp.messages))
                return running, failed

            running, failed = await assert_eventually(first_steps_settled, timeout=900, interval=1)
            settled_s = time.monotonic() - enroll_started
            last_first = max(smtp.received_at) - enroll_wall
            mark(f"first steps settled: {running} in progress, {failed} in error")
            first_received = len(smtp.messages)
            # The sends the kill interrupted: dispatches another worker finished (attempt > 1).
            # An attempt may also have been retried before the kill (a missed 2 s heartbeat on
            # these busy cores), and the victim may have finished that one while alive.
            retried = await _dispatches_retried(client, sid, [p["id"] for p in enrolled])
            assert retried, "the kill mid-burst interrupted no dispatch"
            after_kill = [who for who, at in retried.values() if at > burst_killed]
            assert after_kill, "no interrupted dispatch was finished after the kill"
            assert burst_identity not in after_kill, "the dead worker finished a dispatch"
            mark(f"{len(retried)} dispatches interrupted by the kill, finished by another worker")

            # ---- 2. pause; kill -9 the worker running its fan-out halfway; leave it dead ----
            sequence = client.get_workflow_handle(sequence_workflow_id("acme", sid))
            pause_started = time.monotonic()
            paused = await api.http.post(f"/v1/sequences/{sid}/pause")
            assert paused.status_code == 200, paused.text
            pause_answer_s, pause_answered = time.monotonic() - pause_started, time.time()
            assert paused.json()["counts"].get("paused") == running  # the store, at once

            # A third of the way, once its heartbeat recorded progress (a page or more done).
            strike_at = min(running - FAN_OUT_PAGE // 2, max(running // 3, FAN_OUT_PAGE))

            async def fanned_out_partly() -> tuple[str, int]:
                assert await count("paused") >= strike_at
                fan_out = [
                    a
                    for a in (await sequence.describe()).raw_description.pending_activities
                    if a.activity_type.name == contract.FAN_OUT_SEQUENCE_STATE
                ]
                assert fan_out, "no fan-out running"
                details = await DATA_CONVERTER.decode(fan_out[0].heartbeat_details.payloads)
                assert len(details) > 1 and int(details[1]) > 0, details
                return fan_out[0].last_worker_identity, int(details[1])

            fan_identity, recorded = await assert_eventually(
                fanned_out_partly, timeout=600, interval=0.2
            )
            fan_victim = named(fan_identity)
            paused_at_kill = await count("paused")
            assert paused_at_kill < running, "the fan-out ended before the kill"
            kill9(workers.pop(fan_victim))
            killed_wall = time.time()
            mark(f"kill -9 {fan_victim} mid-fan-out ({paused_at_kill}/{running} paused)")
            survivors = {identity(w): name for name, w in workers.items()}

            async def all_paused() -> None:
                assert await count("paused") == running

            await assert_eventually(all_paused, timeout=900, interval=0.5)
            pause_s = time.monotonic() - pause_started
            mark(f"all {running} paused, {pause_s:.1f} s after the pause")

            async def fan_out_done() -> list[Any]:
                history = [e async for e in sequence.fetch_history_events()]
                done = [
                    e
                    for e in history
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                ]
                assert done, "the fan-out activity has not completed yet"
                return history

            history = await assert_eventually(fan_out_done, timeout=120, interval=0.5)
            starts = [
                e.activity_task_started_event_attributes
                for e in history
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            ]
            assert starts[-1].attempt >= 2 and starts[-1].identity in survivors, starts[-1]
            carried_on_by = survivors[starts[-1].identity]
            resumed = [
                line
                for line in logs[carried_on_by].read_text(errors="replace").splitlines()
                if "fan-out resumed after" in line
            ]
            assert resumed, f"{carried_on_by} did not carry on from the heartbeat"
            resumed_line = json.loads(resumed[-1])
            resumed_after = int(resumed_line["message"].split()[3])
            # Carried on once the dead attempt's heartbeat timed out (the fan-out's is 30 s).
            gap_s = datetime.fromisoformat(resumed_line["time"]).timestamp() - killed_wall
            # From its heartbeat: no earlier than what it recorded at the kill, no later than
            # what was done by then.
            assert recorded <= resumed_after <= paused_at_kill + FAN_OUT_PAGE, (
                recorded,
                resumed_after,
                paused_at_kill,
            )
            mark(f"fan-out carried on by {carried_on_by} after {resumed_after} recipients")

            statuses = await _workflow_statuses(client, sid)
            assert len(statuses) == n
            assert Counter(statuses.values()) == Counter(paused=running, error=failed), Counter(
                statuses.values()
            )
            listed = Counter(r["status"] for r in await list_all(api, sid))
            assert listed == Counter(paused=running, error=failed), listed
            assert smtp.received_at[first_received:] == [], "a message arrived while paused"
            assert all(at <= pause_answered for at in smtp.received_at)

            # ---- 3. resume, on the two survivors --------------------------------------------
            resume_started = time.monotonic()
            resumed_answer = await api.http.post(f"/v1/sequences/{sid}/resume")
            assert resumed_answer.status_code == 200, resumed_answer.text
            resume_answer_s = time.monotonic() - resume_started

            async def all_back() -> None:
                assert await count("in_progress", 1) == running
                assert await count("paused") == 0

            await assert_eventually(all_back, timeout=900, interval=0.5)
            resume_s = time.monotonic() - resume_started
            mark(f"all {running} back in progress, {resume_s:.1f} s after the resume")
            statuses = await _workflow_statuses(client, sid)
            assert Counter(statuses.values()) == Counter(in_progress=running, error=failed)
            listed = Counter(r["status"] for r in await list_all(api, sid))
            assert listed == Counter(in_progress=running, error=failed), listed

            # ---- the evidence ---------------------------------------------------------------
            await asyncio.sleep(1.5)  # nothing is due (the second step is a day away)
            assert len(smtp.messages) == first_received, "a message arrived after the resume"
            received: Counter[str] = Counter()
            for message in smtp.messages:
                assert message["X-Seqflow-Step"] == "0", dict(message.items())
                received[str(message["X-Seqflow-Recipient"])] += 1
            async with store.sessions() as session:
                ledger = list(
                    await session.scalars(select(DeliveryRow).where(DeliveryRow.sequence_id == sid))
                )
            states: dict[str, set[str]] = {}
            for row in ledger:
                states.setdefault(row.recipient_id, set()).add(row.state)
            duplicates = {rid: k for rid, k in received.items() if k > 1}
            wrong = []
            for person in enrolled:
                rid, status = person["id"], statuses[person["id"]]
                flagged = "uncertain" in states.get(rid, set())
                if status == "in_progress" and (received[rid] != 1 or "sent" not in states[rid]):
                    wrong.append((rid, status, received[rid], states.get(rid)))
                elif status == "error" and not flagged:
                    wrong.append((rid, status, received[rid], states.get(rid)))
            unmatched_sent = [
                row.recipient_id
                for row in ledger
                if row.state == "sent" and received[row.recipient_id] != 1
            ]
            ledger_counts = Counter(row.state for row in ledger)
            uncertain_received = sum(
                1 for rid, s in states.items() if "uncertain" in s and received[rid]
            )
            sends = {name: _text_count(log, "sent as") for name, log in logs.items()}
            table = [
                ("recipients", n),
                (
                    "workers",
                    f"{SCALE_WORKERS} (kill -9 {burst_victim} mid-burst, restarted; "
                    f"kill -9 {fan_victim} mid-fan-out, left dead)",
                ),
                (
                    "first emails sent, per worker log",
                    " ".join(f"{k}={v}" for k, v in sends.items()),
                ),
                ("received", len(smtp.messages)),
                ("received distinct", len(received)),
                ("duplicates", sum(k - 1 for k in duplicates.values())),
                ("ledger rows", " ".join(f"{k}={v}" for k, v in sorted(ledger_counts.items()))),
                ("dispatches retried after the kill", len(retried)),
                ("in error (delivery_uncertain)", failed),
                ("  of which did arrive", uncertain_received),
                ("wrong", len(wrong)),
                ("enroll (s)", f"{enroll_s:.1f}  ({n / enroll_s:.0f} recipients/s)"),
                (
                    "last first email after (s)",
                    f"{last_first:.1f}  ({len(received) / last_first:.1f} "
                    "enrolled+sent/s, with the kill)",
                ),
                (
                    "first steps settled after (s)",
                    f"{settled_s:.1f}"
                    + (
                        "  (the uncertain ones wait out the 45 s hand-over grace)" if failed else ""
                    ),
                ),
                ("pause: answer (ms)", f"{pause_answer_s * 1000:.0f}"),
                (
                    "pause: all paused after (s)",
                    f"{pause_s:.1f}  ({running / pause_s:.1f} "
                    f"recipients/s, with the kill: a survivor carried on {gap_s:.0f} s after it)",
                ),
                (
                    "pause: fan-out attempt that finished",
                    f"{starts[-1].attempt} on {carried_on_by}, after recipient {resumed_after} "
                    f"(its heartbeat at the kill: {recorded}; {paused_at_kill} paused then)",
                ),
                ("resume: answer (ms)", f"{resume_answer_s * 1000:.0f}"),
                (
                    "resume: all back after (s)",
                    f"{resume_s:.1f}  ({running / resume_s:.1f} recipients/s, two workers)",
                ),
                ("elapsed (s)", f"{time.monotonic() - started:.1f}"),
            ]
            width = max(len(name) for name, _ in table)
            print("\n" + "\n".join(f"{name:<{width}}  {value}" for name, value in table))
            print("timeline: " + "; ".join(f"{t}s {what}" for t, what in events))
            assert not duplicates, f"sent more than once: {duplicates}"
            assert not wrong, f"not as they should be (id, status, received, ledger): {wrong[:10]}"
            assert not unmatched_sent, f"ledger says sent, received not once: {unmatched_sent[:10]}"
            assert "claimed" not in ledger_counts, ledger_counts  # every claim was resolved
            assert len(received) + failed - uncertain_received == n
    finally:
        for worker in workers.values():
            kill9(worker)
        await store.close()


async def _dispatches_retried(
    client: Client, sid: str, rids: list[str]
) -> dict[str, tuple[str, float]]:
    """Recipients whose dispatch needed more than one attempt, with the identity of the worker
    that finished it and when (the dispatch is a recipient's only activity that is not local)."""
    gate = asyncio.Semaphore(16)

    async def last_attempt(rid: str) -> tuple[str, int, str, float]:
        attempt = 0
        async with gate:
            handle = client.get_workflow_handle(recipient_workflow_id("acme", sid, rid))
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                    attempt = event.activity_task_started_event_attributes.attempt
                elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                    done = event.activity_task_completed_event_attributes
                    return rid, attempt, done.identity, event.event_time.ToMicroseconds() / 1e6
        return rid, attempt, "", 0.0

    found = await asyncio.gather(*(last_attempt(rid) for rid in rids))
    return {rid: (who, at) for rid, attempt, who, at in found if attempt > 1}


async def _workflow_statuses(client: Client, sid: str) -> dict[str, str]:
    """Each recipient's status as its own workflow last published it (its search attributes),
    by recipient id."""
    found: dict[str, str] = {}
    async for wf in client.list_workflows(f'SeqflowSequence="{sid}"'):
        if "/rcp_" in wf.id:
            found[wf.id.rsplit("/", 1)[1]] = str(wf.typed_search_attributes.get(STATUS_KEY))
    return found


def _text_count(log: Path, needle: str) -> int:
    try:
        return log.read_text(errors="replace").count(needle)
    except FileNotFoundError:
        return 0
