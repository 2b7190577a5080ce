"""Temporal stops answering (SIGSTOP on a dev server of this test's own): reads and writes
answer 503 problem+json with Retry-After within 5 s, nothing is half-created, and once it
answers again (SIGCONT) everything is as it was and works."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from store.db import Store
from store.recipients import Recipients
from store.sequences import Sequences
from tests.conftest import TEMPORAL_CLI, SmtpSink, api_for, assert_eventually, free_port
from workflows.client import DATA_CONVERTER
from workflows.contract import search_attribute_cli_flags

pytestmark = pytest.mark.devserver
ANSWER_WITHIN = 5.0


@pytest.fixture
async def own_server(tmp_path: Path) -> AsyncIterator[tuple[subprocess.Popen[bytes], Client]]:
    assert TEMPORAL_CLI
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 (started once, not waited on)
        [
            TEMPORAL_CLI,
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--db-filename",
            str(tmp_path / "temporal.db"),
            "--log-level",
            "error",
            *search_attribute_cli_flags(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = None
        deadline = time.monotonic() + 60
        while client is None:
            try:
                client = await Client.connect(f"127.0.0.1:{port}", data_converter=DATA_CONVERTER)
                await client.service_client.check_health()
            except Exception:
                client = None
                assert time.monotonic() < deadline, "the dev server did not start"
                await asyncio.sleep(0.3)
        yield process, client
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=30)


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call()
    return response, time.perf_counter() - started


TIMES: list[float] = []


def assert_unavailable(response: httpx.Response, took: float) -> None:
    TIMES.append(took)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert took < ANSWER_WITHIN, took


async def test_a_stopped_temporal_is_a_fast_503_and_nothing_is_half_written(
    own_server: tuple[subprocess.Popen[bytes], Client], store: Store, smtp: SmtpSink
) -> None:
    process, client = own_server
    async with api_for(WorkflowEnvironment.from_client(client), store, smtp) as api:
        sequence = await api.create_sequence(
            steps=[{"type": "email", "delay": "P1D", "subject": "Hi", "body": "Hello"}]
        )
        sid = sequence["id"]
        [ada] = await api.enroll(sid, "ada@example.com")
        base = f"/v1/sequences/{sid}/recipients"
        os.kill(process.pid, signal.SIGSTOP)
        try:
            response, took = await timed(lambda: api.http.get(f"{base}/{ada['id']}"))
            assert_unavailable(response, took)
            new_sequence = {
                "name": "During the outage",
                "steps": [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "x"}],
            }
            response, took = await timed(lambda: api.http.post("/v1/sequences", json=new_sequence))
            assert_unavailable(response, took)
            response, took = await timed(
                lambda: api.http.post(base, json={"recipients": [{"email": "bob@example.com"}]})
            )
            assert_unavailable(response, took)
            response, took = await timed(lambda: api.http.post(f"{base}/{ada['id']}/pause"))
            assert_unavailable(response, took)
            response, took = await timed(lambda: api.http.post(f"/v1/sequences/{sid}/pause"))
            assert_unavailable(response, took)
            # Nothing half-written: no new sequence, no new recipient, no barrier left up.
            rows, _ = await Sequences(store).page("acme", None, 50, None)
            assert [row.id for row in rows] == [sid]
            assert rows[0].status == "active"
            listed = await Recipients(store).page("acme", sid, status=None, limit=10, cursor=None)
            assert [(row.id, row.status, row.hold) for row in listed.items] == [
                (ada["id"], "in_progress", False)
            ]
        finally:
            os.kill(process.pid, signal.SIGCONT)
        print(f"\noutage answers (s): {', '.join(f'{t:.2f}' for t in TIMES)}")

        # Back: the same state, and actions work again (once the server has caught up: until
        # then it is still a 503 with Retry-After, which is what a client retries on).
        async def back() -> None:
            response = await api.http.get(f"{base}/{ada['id']}")
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "in_progress"

        await assert_eventually(back, timeout=30, interval=0.5)
        paused = await api.http.post(f"{base}/{ada['id']}/pause")
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
