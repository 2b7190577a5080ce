"""Metrics and logs through the real stack: a dev server, `python -m worker` with its metrics
ports, the API in-process, a real SMTP sink (docs/observability.md).

One email step is sent and the recipient paused, then its sequence; the API's /metrics, the
worker's metrics port and the Temporal SDK's port must show what happened, and the worker's
JSON log lines and the API's must name the ids they are about.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from observability import logs, metrics
from settings import Settings
from store.db import Store
from store.ledger import Ledger
from store.migrate import upgrade_to_head
from tests.conftest import (
    TOKEN_SECRET,
    SmtpSink,
    api_for,
    assert_eventually,
    free_port,
    outbound,
)

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "One"},
    {"type": "email", "delay": "P2D", "subject": "Again", "body": "Two"},
]
PAUSE_ROUTE = "/v1/sequences/{sequence_id}/recipients/{recipient_id}/pause"

Samples = list[tuple[str, dict[str, str], float]]


def parse(text: str) -> Samples:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples that carry these labels (0 when there is none)."""
    return sum(v for n, have, v in samples if n == name and labels.items() <= have.items())


async def scrape(http: httpx.AsyncClient, url: str = "/metrics") -> Samples:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def start_worker(
    env: WorkflowEnvironment, task_queue: str, db_url: str, smtp: SmtpSink, ports: dict, log: Path
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SEQFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SEQFLOW_TASK_QUEUE": task_queue,
        "SEQFLOW_TOKEN_SECRET": TOKEN_SECRET,
        "SEQFLOW_DATABASE_URL": db_url,
        "SEQFLOW_SMTP_HOST": smtp.host,
        "SEQFLOW_SMTP_PORT": str(smtp.port),
        "SEQFLOW_DEV_MODE": "false",  # production: JSON lines
        "SEQFLOW_WORKER_METRICS_PORT": str(ports["product"]),
        "SEQFLOW_WORKER_SDK_METRICS_PORT": str(ports["sdk"]),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def json_lines_of_this_process() -> Iterator[io.StringIO]:
    """The API runs in the test's process: its records, through the production handler."""
    stream = io.StringIO()
    handler = logs.handler("api", json_lines=True, stream=stream)
    root, http_log = logging.getLogger(), logging.getLogger("seqflow.http")
    level = http_log.level
    root.addHandler(handler)
    http_log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        http_log.setLevel(level)


def lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))  # every line that looks like JSON is JSON
    return found


async def test_a_send_and_a_pause_move_the_metrics_and_name_their_ids_in_logs(
    dev_env: WorkflowEnvironment, smtp: SmtpSink, tmp_path: Path
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    ports = {"product": free_port(), "sdk": free_port()}
    worker_log = tmp_path / "worker.log"
    worker = start_worker(dev_env, task_queue, db_url, smtp, ports, worker_log)
    worker_metrics = f"http://127.0.0.1:{ports['product']}/metrics"
    sdk_metrics = f"http://127.0.0.1:{ports['sdk']}/metrics"
    try:
        async with (
            api_for(dev_env, store, smtp, task_queue=task_queue) as api,
            httpx.AsyncClient(timeout=10) as http,
        ):
            before = await scrape(api.http)
            sequence = await api.create_sequence(steps=STEPS)
            sid = sequence["id"]
            [ada] = await api.enroll(sid, "ada@example.com")
            rid = ada["id"]

            async def sent() -> None:
                assert len(smtp.to("ada@example.com")) == 1
                assert (await api.recipient(sid, rid))["steps"][0]["state"] == "sent"

            await assert_eventually(sent, timeout=60)

            with json_lines_of_this_process() as api_log:
                paused = await api.http.post(f"/v1/sequences/{sid}/recipients/{rid}/pause")
                assert paused.status_code == 200, paused.text
            assert (await api.http.post(f"/v1/sequences/{sid}/pause")).status_code == 200

            # The API: holds by source, the request histogram by route template.
            after = await scrape(api.http)

            def moved(name: str, **labels: str) -> float:
                return value(after, name, **labels) - value(before, name, **labels)

            assert moved("seqflow_holds_applied_total", source="recipient") == 1
            assert moved("seqflow_holds_applied_total", source="sequence") == 1
            requests = "seqflow_http_request_duration_seconds_count"
            assert moved(requests, method="POST", route=PAUSE_ROUTE, status="200") == 1
            assert value(after, "seqflow_ledger_uncertain_messages") == 0
            text = (await api.http.get("/metrics")).text
            assert rid not in text and sid not in text  # ids never become labels

            # The worker: what it handed over, for whom, and the fan-out of the sequence pause.
            async def worker_counted() -> Samples:
                found = await scrape(http, worker_metrics)
                sent = "seqflow_dispatch_attempts_total"
                assert value(found, sent, channel="email", outcome="sent") == 1
                assert value(found, "seqflow_workspace_messages_sent_total", workspace="acme") == 1
                assert value(found, "seqflow_fanout_recipients_reached_total", change="state") == 1
                assert value(found, "seqflow_fanout_oldest_change_age_seconds") == 0  # finished
                return found

            found = await assert_eventually(worker_counted, timeout=30)
            assert value(found, "seqflow_template_render_seconds_count", call="render") >= 1
            assert value(found, "seqflow_fanout_lag_seconds_count", change="state") == 1

            # The Temporal SDK's own metrics, from the worker's runtime.
            sdk = {name for name, _, _ in await scrape(http, sdk_metrics)}
            missing = metrics.SDK_METRICS - sdk
            assert not missing, f"the SDK's port lacks {sorted(missing)}"

        # Logs: the dispatch activity's line names everything it was about.
        worker_lines = lines(worker_log.read_text())
        [sent_line] = [x for x in worker_lines if x["message"].startswith("step 0 sent as")]
        assert sent_line["level"] == "INFO" and sent_line["service"] == "worker"
        assert {k: sent_line.get(k) for k in ("workspace", "sequence_id", "recipient_id")} == {
            "workspace": "acme",
            "sequence_id": sid,
            "recipient_id": rid,
        }
        assert sent_line["step"] == 0
        assert sent_line["workflow_id"] == f"acme/{sid}/{rid}"
        assert sent_line["activity"] == "dispatch_step" and sent_line["attempt"] == 1
        assert "time" in sent_line and "temporal_activity" not in sent_line

        # And the API's request line: route template, status, its workspace and path ids.
        [request_line] = [x for x in lines(api_log.getvalue()) if x.get("route") == PAUSE_ROUTE]
        assert request_line["status"] == 200 and request_line["method"] == "POST"
        assert request_line["workspace"] == "acme"
        assert (request_line["sequence_id"], request_line["recipient_id"]) == (sid, rid)
        assert request_line["duration_ms"] > 0
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        await store.close()


async def test_the_ledger_uncertain_count_is_read_when_scraped(
    dev_env: WorkflowEnvironment, store: Store
) -> None:
    ledger = Ledger(store)
    claim = await ledger.claim(outbound("rcp_metrics", "seq_metrics"))
    assert claim.row_id is not None
    await ledger.finish(claim.row_id, "uncertain")
    app = create_app(Settings(token_secret=TOKEN_SECRET), client=dev_env.client, store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://seqflow.test"
    ) as http:
        assert value(await scrape(http), "seqflow_ledger_uncertain_messages") == 1
