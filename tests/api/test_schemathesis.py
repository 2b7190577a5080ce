"""Schemathesis over the app's own OpenAPI, against a real served API (uvicorn, a worker, the
dev server, SQLite): generated requests never get a server error, and every answer matches
the documented schema. Bounded: a few examples per operation, a couple of minutes."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.statuses import StepType
from settings import Settings
from store.db import Store
from store.migrate import upgrade_to_head
from tests.conftest import API_KEY, OTHER_KEY, TOKEN_SECRET, SmtpSink, free_port
from worker import build_worker
from workflows.client import connect_client

pytestmark = pytest.mark.devserver
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def serve(settings: Settings, smtp: SmtpSink, started: threading.Event) -> uvicorn.Server:
    """The API and a worker in a thread of their own (their own event loop)."""
    config = uvicorn.Config(
        "tests.api.test_schemathesis:placeholder", host="127.0.0.1", port=settings.api_port
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        await upgrade_to_head(settings.database_url)
        client = await connect_client(settings)
        store = Store.connect(settings.database_url)
        worker = build_worker(
            client,
            task_queue=settings.task_queue,
            store=store,
            channels={StepType.EMAIL: smtp.channel()},
        )
        app = create_app(settings, client=client, store=store)
        server.config = uvicorn.Config(
            app, host="127.0.0.1", port=settings.api_port, log_level="warning", lifespan="off"
        )
        async with worker:
            started.set()
            await server.serve()
        await store.close()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    return server


@pytest.fixture(scope="module")
def served_api(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    settings_ = Settings(
        api_keys=f"{API_KEY}:acme,{OTHER_KEY}:globex",
        token_secret=TOKEN_SECRET,
        task_queue=f"tq-{uuid.uuid4()}",
        temporal_address=dev_env.client.service_client.config.target_host,
        database_url=f"sqlite+aiosqlite:///{tmp}/store.db",
        api_port=port,
    )
    started = threading.Event()
    server = serve(settings_, sink, started)
    base = f"http://127.0.0.1:{port}"
    assert started.wait(60)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    # Something for the generated ids to find now and then.
    sequence = httpx.post(
        f"{base}/v1/sequences",
        headers=AUTH,
        json={
            "name": "Seed",
            "steps": [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "Hello"}],
        },
    )
    assert sequence.status_code == 201, sequence.text
    yield base
    server.should_exit = True
    controller.stop()


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 25  # per operation


def test_generated_requests_get_documented_answers_never_server_errors(served_api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served_api}/openapi.json")
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same cases on every run: a failure is reproducible
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(base_url=served_api, headers=AUTH, timeout=30, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {exc}"[:2000])
    print(f"\nschemathesis: {cases} generated requests over the API, {len(failures)} failing")
    assert cases > 100
    assert not failures, "\n\n".join(failures)
