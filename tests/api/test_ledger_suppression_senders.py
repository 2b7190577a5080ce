"""Channels issue through the API and the workflow: suppression, senders, the ledger's rules."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.models import SequenceDefinition, SequenceSettings
from domain.statuses import RecipientStatus, StepType
from store.accounts import Accounts
from store.db import Store
from store.ledger import Ledger
from store.recipients import NewContact, Recipients
from store.sequences import Sequences
from tests.conftest import Api, SmtpSink, assert_eventually, outbound, running_worker
from tests.workflows.harness import Harness, sequence, step
from workflows.models import ActionRequest
from workflows.recipient import RecipientWorkflow

DAY = timedelta(days=1)


async def status_of(api: Api, sid: str, rid: str, status: str) -> dict:
    async def check() -> dict:
        current = await api.recipient(sid, rid)
        assert current["status"] == status, current["status"]
        return current

    return await assert_eventually(check)  # type: ignore[no-any-return]


async def test_suppressing_an_address_unsubscribes_it_everywhere_and_blocks_enrollment(
    api: Api,
) -> None:
    first, second = await api.create_sequence(), await api.create_sequence()
    [a] = await api.enroll(first["id"], "ada@example.com")
    [b] = await api.enroll(second["id"], "ada@example.com")
    added = await api.http.post("/v1/suppressions", json={"email": "Ada@Example.com"})
    assert added.status_code == 201 and added.json()["recipients_unsubscribed"] == 2
    await status_of(api, first["id"], a["id"], "unsubscribed")
    await status_of(api, second["id"], b["id"], "unsubscribed")
    third = await api.create_sequence()
    again = await api.http.post(
        f"/v1/sequences/{third['id']}/recipients",
        json={"recipients": [{"email": "ada@example.com"}]},
    )
    assert again.status_code == 409 and "suppression" in again.json()["detail"]
    listed = (await api.http.get("/v1/suppressions")).json()["items"]
    assert [s["email"] for s in listed] == ["ada@example.com"]
    assert (await api.http.delete("/v1/suppressions/ada@example.com")).status_code == 200


async def first_step_sent(api: Api, sid: str, rid: str) -> None:
    async def check() -> None:
        assert (await api.recipient(sid, rid))["steps"][0]["state"] == "sent"

    await assert_eventually(check)


async def _sent_count(smtp: SmtpSink, n: int) -> None:
    assert len(smtp.messages) == n


async def test_disconnected_sender_errors_and_reconnecting_retries(
    api: Api, smtp: SmtpSink
) -> None:
    created = await api.http.post(
        "/v1/senders", json={"name": "Ada's box", "email": "ada@acme.com"}
    )
    assert created.status_code == 201, created.text
    sender = created.json()
    await api.http.patch(f"/v1/senders/{sender['id']}", json={"status": "disconnected"})
    sequence = await api.create_sequence(sender_id=sender["id"])
    [bob] = await api.enroll(sequence["id"], "bob@example.com")
    failed = await status_of(api, sequence["id"], bob["id"], "error")
    assert failed["error"]["cause"] == "sender_disconnected"
    assert failed["error"]["fix"].startswith("reconnect the sender")
    assert smtp.messages == []

    async def projected() -> None:
        rows = await Accounts(api.store).erred_on_sender("acme", sender["id"])
        assert [r.id for r in rows] == [bob["id"]]

    await assert_eventually(projected)
    back = await api.http.patch(f"/v1/senders/{sender['id']}", json={"status": "connected"})
    assert back.json()["recipients_retried"] == 1
    await assert_eventually(lambda: _sent_count(smtp, 1))
    assert smtp.messages[0]["From"] == "Ada's box <ada@acme.com>"  # from the sequence's sender


@pytest.fixture
async def harness(
    ts_env: WorkflowEnvironment, store: Store, smtp: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(ts_env.client, store, {StepType.EMAIL: smtp.channel()}) as worker:
        harness = Harness(ts_env, worker.task_queue)
        yield harness
        await harness.terminate_all()


async def recipient_row(store: Store) -> str:
    """A store row for a recipient the harness will start (the ledger checks it)."""
    sequence_id = f"seq_{uuid.uuid4().hex[:8]}"
    await Sequences(store).create("acme", sequence_id, SequenceDefinition(name="S", steps=[]))
    [row], _ = await Recipients(store).enroll(
        "acme", sequence_id, [NewContact("ada@example.com")], RecipientStatus.IN_PROGRESS
    )
    return row.recipient_id


async def test_a_retried_dispatch_finding_a_sent_row_does_not_send_again(
    harness: Harness, store: Store, smtp: SmtpSink
) -> None:
    rid = await recipient_row(store)
    claimed = await Ledger(store).claim(outbound(rid, "seq_t"))
    assert claimed.row_id
    await Ledger(store).finish(claimed.row_id, "sent", "prov-1")  # an earlier attempt sent it
    handle = await harness.start(sequence(step("email", timedelta(0))), recipient_id=rid)
    final = await handle.result()
    assert final.status is RecipientStatus.COMPLETED and smtp.messages == []
    assert [e.details.get("already_sent") for e in final.timeline if e.kind == "step_sent"] == [
        True
    ]


async def test_an_unfinished_claim_is_flagged_uncertain_until_a_person_retries(
    harness: Harness, store: Store, smtp: SmtpSink
) -> None:
    rid = await recipient_row(store)
    # An attempt that died mid-send five minutes ago (long past the hand-over grace).
    await Ledger(store).claim(outbound(rid, "seq_t"), now=datetime.now(UTC) - timedelta(minutes=5))
    handle = await harness.start(sequence(step("email", timedelta(0))), recipient_id=rid)
    failed = await harness.until(handle, lambda v: v.status is RecipientStatus.ERROR)
    assert failed.error and failed.error.cause == "delivery_uncertain"
    assert failed.error.fix == "check the mailbox, then retry or skip"
    assert smtp.messages == []
    # Pause and resume is not "I checked the mailbox": the step comes back uncertain.
    await harness.pause(handle)
    await harness.resume(handle)
    again = await harness.until(
        handle, lambda v: [e.kind for e in v.timeline].count("step_failed") == 2
    )
    assert again.status is RecipientStatus.ERROR and smtp.messages == []
    await handle.execute_update(RecipientWorkflow.retry, ActionRequest(actor="ada"))
    await handle.result()
    assert len(smtp.messages) == 1
    assert [r.state for r in await Ledger(store).rows_for(rid)] == ["uncertain", "sent"]


async def test_one_click_unsubscribe_link_works_without_an_api_key(
    api: Api, smtp: SmtpSink
) -> None:
    sequence = await api.create_sequence()
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    await first_step_sent(api, sequence["id"], ada["id"])
    [email] = smtp.messages
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = email["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("http://seqflow.test")
    no_key = {"Authorization": ""}
    page = await api.http.get(path, headers=no_key)
    assert page.status_code == 200 and "ada@example.com" in page.text  # a GET only asks
    assert (await api.recipient(sequence["id"], ada["id"]))["status"] == "in_progress"
    for _ in range(2):  # a second click changes nothing
        clicked = await api.http.post(path, headers=no_key, content="List-Unsubscribe=One-Click")
        assert clicked.status_code == 200 and clicked.json()["status"] == "unsubscribed"
    await status_of(api, sequence["id"], ada["id"], "unsubscribed")
    forged = await api.http.post(path[:-3] + "abc", headers=no_key)
    assert forged.status_code == 404


async def test_a_recipient_the_sender_change_missed_is_paused_at_the_barrier(
    harness: Harness, store: Store, smtp: SmtpSink
) -> None:
    """Started with the old sender after the change's fan-out passed: the ledger refuses the
    old sender, and the recipient takes the new one and pauses for a person."""
    new = await Accounts(store).create_sender("acme", "Grace Box", "grace@acme.com", None)
    await Sequences(store).create(
        "acme",
        "seq_t",
        SequenceDefinition(name="S", steps=[], settings=SequenceSettings(sender_id=new.id)),
    )
    [row], _ = await Recipients(store).enroll(
        "acme", "seq_t", [NewContact("ada@example.com")], RecipientStatus.IN_PROGRESS
    )
    handle = await harness.start(
        sequence(step("email", timedelta(0)), sender_id="snd_old"), recipient_id=row.recipient_id
    )
    paused = await harness.until(handle, lambda v: v.status is RecipientStatus.PAUSED)
    assert paused.pause and paused.pause.reason == "sender_changed"
    assert smtp.messages == []
    await harness.resume(handle)
    await handle.result()
    assert [m["From"] for m in smtp.messages] == ["Grace Box <grace@acme.com>"]
