"""Tracing through the real stack (docs/observability.md, "Tracing"): a dev server,
`python -m worker` (workflows in the sandbox) and the API in-process, its lifespan connecting
its own client, both with SEQFLOW_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver run by this
test, which decodes what it is sent with opentelemetry-proto.

An enrollment and the send it leads to are one trace: the request, StartWorkflow, RunWorkflow,
and the dispatch activity. A pause of the recipient is a trace of its own — the request and
the update's client span — and the workflow's HandleUpdate span (in the workflow's trace, as
the SDK's TracingInterceptor puts it) links to that client span. A sequence's pause: its
fan-out activity's updates are children of the activity's span.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from store.db import Store
from store.migrate import upgrade_to_head
from tests.conftest import API_KEY, TOKEN_SECRET, SmtpSink, assert_eventually

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "One"},
    {"type": "email", "delay": "P2D", "subject": "Again", "body": "Two"},
]
ENROLL = "POST /v1/sequences/{sequence_id}/recipients"
PAUSE = "POST /v1/sequences/{sequence_id}/recipients/{recipient_id}/pause"
SEQUENCE_PAUSE = "POST /v1/sequences/{sequence_id}/pause"
SERVER, CLIENT = SpanProto.SPAN_KIND_SERVER, SpanProto.SPAN_KIND_CLIENT


# ---- a real OTLP/HTTP receiver ----------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[tuple[str, str], ...]  # (trace id, span id) of each link
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


@dataclass
class Receiver:
    """POST /v1/traces, as a collector takes it: protobuf, maybe gzipped."""

    spans: list[Span] = field(default_factory=list)
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource_spans in request.resource_spans:
            service = _attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        Span(
                            service=service,
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            links=tuple((li.trace_id.hex(), li.span_id.hex()) for li in span.links),
                            attributes=_attributes(span.attributes),
                        )
                    )
        with self.lock:
            self.spans.extend(found)
            self.posts += 1

    def named(self, name: str, **attributes: Any) -> list[Span]:
        with self.lock:
            return [
                s
                for s in self.spans
                if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
            ]

    def one(self, name: str, **attributes: Any) -> Span:
        found = self.named(name, **attributes)
        assert len(found) == 1, (name, attributes, found, sorted({s.name for s in self.spans}))
        return found[0]


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", receiver
    finally:
        server.shutdown()
        server.server_close()


# ---- the stack --------------------------------------------------------------------------------


def start_worker(
    env: WorkflowEnvironment, task_queue: str, db_url: str, smtp: SmtpSink, otlp: str, log: Path
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SEQFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SEQFLOW_TASK_QUEUE": task_queue,
        "SEQFLOW_TOKEN_SECRET": TOKEN_SECRET,
        "SEQFLOW_DATABASE_URL": db_url,
        "SEQFLOW_SMTP_HOST": smtp.host,
        "SEQFLOW_SMTP_PORT": str(smtp.port),
        "SEQFLOW_WORKFLOW_SANDBOX": "true",  # opentelemetry passes through the sandbox
        "SEQFLOW_OTLP_ENDPOINT": otlp,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # the SDK's own variable: export every 0.2 s
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def child_of(span: Span, parent: Span) -> bool:
    return span.trace_id == parent.trace_id and span.parent_id == parent.span_id


async def test_a_request_its_workflow_and_its_send_are_one_trace_and_a_pause_links_to_it(
    dev_env: WorkflowEnvironment, smtp: SmtpSink, tmp_path: Path
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    with otlp_receiver() as (endpoint, got):
        worker = start_worker(dev_env, task_queue, db_url, smtp, endpoint, tmp_path / "w.log")
        settings = Settings(
            api_keys=f"{API_KEY}:acme:ada.recruiter",
            task_queue=task_queue,
            token_secret=TOKEN_SECRET,
            temporal_address=dev_env.client.service_client.config.target_host,
            database_url=db_url,
            otlp_endpoint=endpoint,
        )
        app = create_app(settings, store=store)  # its client: connect_client, traced
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://seqflow.test",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                    timeout=60,
                ) as http,
            ):
                created = await http.post("/v1/sequences", json={"name": "T", "steps": STEPS})
                sid = created.json()["id"]
                enrolled = await http.post(
                    f"/v1/sequences/{sid}/recipients",
                    json={"recipients": [{"email": "ada@example.com", "first_name": "Ada"}]},
                )
                assert enrolled.status_code == 201, enrolled.text
                rid = enrolled.json()["enrolled"][0]["id"]

                async def sent() -> None:
                    assert len(smtp.to("ada@example.com")) == 1
                    answer = await http.get(f"/v1/sequences/{sid}/recipients/{rid}")
                    assert answer.json()["steps"][0]["state"] == "sent"

                await assert_eventually(sent, timeout=60)
                paused = await http.post(f"/v1/sequences/{sid}/recipients/{rid}/pause")
                assert paused.status_code == 200, paused.text
                assert (await http.post(f"/v1/sequences/{sid}/pause")).status_code == 200
                assert (await http.get("/healthz")).status_code == 200  # never traced

                async def fanned_out() -> None:
                    got.one("RunActivity:fan_out_sequence_state")

                await assert_eventually(fanned_out, timeout=30)
            # The lifespan's end exported what the API still had batched.
        finally:
            os.killpg(worker.pid, signal.SIGTERM)  # the worker exports its own on the way out
            worker.wait(timeout=30)
            await store.close()

        workflow_id = f"acme/{sid}/{rid}"
        # One trace: the enrollment, the start it made, the workflow run, the send.
        enroll = got.one(ENROLL)
        assert (enroll.service, enroll.kind) == ("seqflow-api", SERVER)
        assert enroll.attributes["seqflow.sequence_id"] == sid
        start = got.one("StartWorkflow:RecipientWorkflow", temporalWorkflowID=workflow_id)
        assert (start.service, start.kind) == ("seqflow-api", CLIENT)
        assert child_of(start, enroll)
        run = got.one("RunWorkflow:RecipientWorkflow", temporalWorkflowID=workflow_id)
        assert run.service == "seqflow-worker" and child_of(run, start)
        [dispatch] = got.named("StartActivity:dispatch_step", temporalWorkflowID=workflow_id)
        assert child_of(dispatch, start)
        [send] = got.named("RunActivity:dispatch_step", temporalWorkflowID=workflow_id)
        assert send.service == "seqflow-worker" and child_of(send, dispatch)

        # The pause: its request and the update's client span are one trace; the workflow's
        # handler span, in the workflow's own trace, links to the update that asked for it.
        pause = got.one(PAUSE)
        assert pause.trace_id != enroll.trace_id
        assert pause.attributes["seqflow.recipient_id"] == rid
        update = got.one("StartWorkflowUpdate:pause", temporalWorkflowID=workflow_id)
        assert update.kind == CLIENT and child_of(update, pause)
        handled = got.one("HandleUpdate:pause", temporalWorkflowID=workflow_id)
        assert handled.service == "seqflow-worker"
        assert handled.trace_id == enroll.trace_id and handled.parent_id == start.span_id
        assert (update.trace_id, update.span_id) in handled.links

        # The sequence's pause: its update, and its fan-out reaching the recipient from the
        # activity's span.
        sequence_pause = got.one(SEQUENCE_PAUSE)
        sequence_update = got.one("StartWorkflowUpdate:pause", temporalWorkflowID=f"acme/{sid}")
        assert child_of(sequence_update, sequence_pause)
        fan_out = got.one("RunActivity:fan_out_sequence_state")
        [reached] = got.named("StartWorkflowUpdate:apply_sequence_state")
        assert reached.attributes["temporalWorkflowID"] == workflow_id
        assert child_of(reached, fan_out)
        [applied] = got.named("HandleUpdate:apply_sequence_state")
        assert (reached.trace_id, reached.span_id) in applied.links

        assert not [s for s in got.spans if s.attributes.get("url.path") == "/healthz"]


def test_off_unless_configured_and_then_nothing_of_the_sdk_is_even_loaded() -> None:
    script = "\n".join(
        [
            "import sys",
            "import worker",
            "from api.app import create_app",
            "from observability import tracing",
            "from settings import Settings",
            f"settings = Settings(token_secret={TOKEN_SECRET!r})",
            "app = create_app(settings)",
            "assert app.state.tracing is None and tracing.configure('worker', settings) is None",
            "assert tracing.interceptors(None) == []",
            "prefixes = ('opentelemetry.sdk', 'opentelemetry.exporter', 'temporalio.contrib.open')",
            "loaded = sorted(m for m in sys.modules if m.startswith(prefixes))",
            "assert not loaded, loaded",
        ]
    )
    environment = {k: v for k, v in os.environ.items() if k != "SEQFLOW_OTLP_ENDPOINT"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
