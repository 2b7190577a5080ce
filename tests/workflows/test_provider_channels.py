"""SMS and LinkedIn steps go out through a real HTTP provider (a local server in the test)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.channels import HttpProviderChannel
from domain.statuses import RecipientStatus, StepType
from store.db import Store
from tests.conftest import SmtpSink, running_worker
from tests.workflows.harness import Harness, sequence, step
from workflows.models import Contact

DAY = timedelta(days=1)


class Provider(ThreadingHTTPServer):
    received: list[dict]
    reject: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: Provider

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers["Authorization"] != "Bearer tok" or self.path != "/messages":
            self.send_response(403)
        elif self.server.reject:
            self.send_response(422)
        else:
            self.server.received.append(body)
            self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": f"prov-{len(self.server.received)}"}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
async def harness(
    ts_env: WorkflowEnvironment, store: Store, smtp: SmtpSink, provider: Provider
) -> AsyncIterator[Harness]:
    http = HttpProviderChannel(f"http://127.0.0.1:{provider.server_address[1]}", "tok")
    channels = {StepType.EMAIL: smtp.channel(), StepType.SMS: http, StepType.LINKEDIN: http}
    async with running_worker(ts_env.client, store, channels) as worker:
        harness = Harness(ts_env, worker.task_queue)
        yield harness
        await harness.terminate_all()


async def test_sms_and_linkedin_steps_reach_the_provider(
    harness: Harness, provider: Provider
) -> None:
    contact = Contact(
        email="ada@example.com",
        first_name="Ada",
        phone="+33 6 12 34 56 78",
        linkedin_url="https://www.linkedin.com/in/ada",
    )
    handle = await harness.start(
        sequence(step("sms", timedelta(0)), step("linkedin", DAY)), contact=contact
    )
    final = await handle.result()
    assert final.status is RecipientStatus.COMPLETED
    assert [(m["channel"], m["to"], m["body"]) for m in provider.received] == [
        ("sms", "+33612345678", "sms body for Ada"),
        ("linkedin", "https://www.linkedin.com/in/ada", "linkedin body for Ada"),
    ]


async def test_invalid_phone_and_provider_rejection_are_errors_with_a_fix(
    harness: Harness, provider: Provider
) -> None:
    bad_phone = await harness.start(
        sequence(step("sms", timedelta(0))), contact=Contact(first_name="Bo", phone="12")
    )
    failed = await harness.until(bad_phone, lambda v: v.status is RecipientStatus.ERROR)
    assert failed.error and failed.error.cause == "invalid_phone"
    assert "phone" in failed.error.fix

    provider.reject = True
    rejected = await harness.start(
        sequence(step("sms", timedelta(0))), contact=Contact(first_name="Cy", phone="+33612345678")
    )
    failed = await harness.until(rejected, lambda v: v.status is RecipientStatus.ERROR)
    assert failed.error and failed.error.cause == "provider_rejected"
    assert failed.error.fix == "retry the step"
    assert provider.received == []
