"""Outbound webhooks end to end on the dev server, to a real local HTTP receiver: every event
verified with the Standard Webhooks package's own verifier and the secret the API gave, in
order per recipient; retries keep the webhook-id; the log shows every attempt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook
from temporalio.testing import WorkflowEnvironment

from domain.outbound import SUBSCRIBABLE
from store.db import Store
from tests.conftest import Api, SmtpSink, api_for, assert_eventually
from tests.webhook_receiver import Receiver, start_receiver

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "Hello"},
    {"type": "email", "delay": "P2D", "subject": "Following up", "body": "Any news?"},
]
QUICK_RETRIES = {"webhook_first_retry": timedelta(seconds=0.2), "dev_mode": True}


@pytest.fixture
async def hooks_api(
    dev_env: WorkflowEnvironment, store: Store, smtp: SmtpSink
) -> AsyncIterator[Api]:
    async with api_for(dev_env, store, smtp, **QUICK_RETRIES) as api:
        yield api


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.close()


async def register(api: Api, url: str, **extra: object) -> dict:
    events = [t.value for t in SUBSCRIBABLE]
    answer = await api.http.post("/v1/webhooks", json={"url": url, "events": events, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def sent_first_step(api: Api, sid: str, rid: str) -> None:
    async def sent() -> None:
        assert (await api.recipient(sid, rid))["steps"][0]["state"] == "sent"

    await assert_eventually(sent, timeout=20)


async def test_every_change_arrives_signed_and_in_order(hooks_api: Api, receiver: Receiver) -> None:
    api = hooks_api
    endpoint = await register(api, receiver.url, description="our ATS")
    assert endpoint["secret"].startswith("whsec_")
    assert (await api.http.get(f"/v1/webhooks/{endpoint['id']}")).json()["secret"] is None

    sequence = await api.create_sequence(steps=STEPS)
    sid = sequence["id"]
    ada, bob = await api.enroll(sid, "ada@example.com", "bob@example.com")
    for person in (ada, bob):
        await sent_first_step(api, sid, person["id"])
    base = f"/v1/sequences/{sid}/recipients/{ada['id']}"
    paused = await api.http.post(f"{base}/pause", json={"reason": "holiday"})
    assert paused.status_code == 200
    assert (await api.http.post(f"{base}/resume")).status_code == 200
    reply = {
        "event_id": "r1",
        "from": "ada@example.com",
        "subject": "Re: Hi Ada",
        "text": "Happy to talk on Thursday.",
        "in_reply_to": f"<{ada['id']}.0@seqflow>",
    }
    assert (await api.http.post("/v1/events/replies", json=reply)).status_code == 200
    bounce = {"event_id": "b1", "email": "bob@example.com", "kind": "hard"}
    assert (await api.http.post("/v1/events/bounces", json=bounce)).status_code == 200
    assert (await api.http.post(f"/v1/sequences/{sid}/pause")).status_code == 200

    async def all_arrived() -> None:
        types = [r.event["type"] for r in receiver.received]
        assert types.count("recipient.step_sent") == 2
        assert "recipient.replied" in types and "recipient.bounced" in types
        assert "sequence.paused" in types

    await assert_eventually(all_arrived, timeout=30)

    verifier = Webhook(endpoint["secret"])
    for got in receiver.received:
        assert verifier.verify(got.body, got.headers) == got.event  # raises if not signed
    # In order per recipient: its seq numbers arrive 1, 2, 3, …
    seqs: dict[str, list[int]] = defaultdict(list)
    for got in receiver.received:
        if "recipient_id" in got.event["data"]:
            seqs[got.event["data"]["recipient_id"]].append(got.event["data"]["seq"])
    assert seqs[ada["id"]] == list(range(1, len(seqs[ada["id"]]) + 1))
    assert seqs[bob["id"]] == list(range(1, len(seqs[bob["id"]]) + 1))

    changes = [
        (r.event["data"]["from"], r.event["data"]["to"])
        for r in receiver.of_type("recipient.status_changed")
        if r.event["data"]["recipient_id"] == ada["id"]
    ]
    assert changes == [
        ("in_progress", "paused"),
        ("paused", "in_progress"),
        ("in_progress", "responded"),
    ]
    held = [
        r.event["data"]["hold"]
        for r in receiver.of_type("recipient.status_changed")
        if r.event["data"]["to"] == "paused"
    ]
    assert held == [{"source": "recipient", "reason": "holiday", "note": None, "until": None}]
    assert receiver.of_type("recipient.bounced")[0].event["data"]["kind"] == "hard"
    # A sequence pause is one event that says how many it holds, not one per recipient:
    # nobody was running any more (Ada responded, Bob bounced).
    [sequence_paused] = receiver.of_type("sequence.paused")
    assert sequence_paused.event["data"] == {"sequence_id": sid, "epoch": 1, "holds": 0}
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids))


async def test_a_failing_receiver_gets_the_event_on_its_fourth_try_with_the_same_id(
    hooks_api: Api,
) -> None:
    api = hooks_api
    receiver = start_receiver(fail_first=3)
    try:
        endpoint = await register(api, receiver.url)
        tested = await api.http.post(f"/v1/webhooks/{endpoint['id']}/test")
        assert tested.status_code == 202 and tested.json()["state"] == "pending"

        async def delivered() -> None:
            assert len(receiver.received) == 1

        await assert_eventually(delivered, timeout=20)
        [ping] = receiver.received
        assert ping.event["type"] == "ping"
        assert receiver.answered == [500, 500, 500, 200]
        Webhook(endpoint["secret"]).verify(ping.body, ping.headers)

        async def logged() -> dict:
            log = (await api.http.get(f"/v1/webhooks/{endpoint['id']}/deliveries")).json()
            [entry] = log["items"]
            assert entry["state"] == "delivered"
            return entry  # type: ignore[no-any-return]

        entry = await assert_eventually(logged)
        assert entry["message_id"] == ping.headers["webhook-id"]
        assert entry["attempts"] == 4
        assert [a["status_code"] for a in entry["attempt_log"]] == [500, 500, 500, 200]
        assert entry["attempt_log"][0]["error"].startswith("answered 500")

        # A retry by hand sends it again, with the same id.
        again = await api.http.post(f"/v1/webhooks/{endpoint['id']}/deliveries/{entry['id']}/retry")
        assert again.status_code == 200 and again.json()["state"] == "pending"
        await assert_eventually(lambda: _count(receiver, 2), timeout=20)
        assert receiver.received[1].headers["webhook-id"] == ping.headers["webhook-id"]
    finally:
        receiver.close()


async def _count(receiver: Receiver, n: int) -> None:
    assert len(receiver.received) == n


async def test_a_rotated_secret_signs_beside_the_old_one(
    hooks_api: Api, receiver: Receiver
) -> None:
    api = hooks_api
    endpoint = await register(api, receiver.url)
    rotated = (await api.http.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret")).json()
    assert rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_signs_until"] is not None
    await api.http.post(f"/v1/webhooks/{endpoint['id']}/test")
    await assert_eventually(lambda: _count(receiver, 1), timeout=20)
    [ping] = receiver.received
    assert len(ping.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], rotated["secret"]):
        Webhook(secret).verify(ping.body, ping.headers)


async def test_a_disabled_endpoint_is_sent_nothing_until_enabled_again(
    hooks_api: Api, receiver: Receiver
) -> None:
    api = hooks_api
    endpoint = await register(api, receiver.url)
    off = await api.http.patch(f"/v1/webhooks/{endpoint['id']}", json={"enabled": False})
    assert off.json()["enabled"] is False
    sequence = await api.create_sequence(steps=STEPS)
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    await sent_first_step(api, sequence["id"], ada["id"])
    assert receiver.received == []  # disabled: nothing sent, nothing enqueued for it

    refused = await api.http.post(f"/v1/webhooks/{endpoint['id']}/test")
    assert refused.status_code == 409
    on = await api.http.patch(f"/v1/webhooks/{endpoint['id']}", json={"enabled": True})
    assert on.json()["enabled"] is True
    await api.http.post(f"/v1/webhooks/{endpoint['id']}/test")
    await assert_eventually(lambda: _count(receiver, 1), timeout=20)
    assert receiver.received[0].event["type"] == "ping"
    assert (await api.http.delete(f"/v1/webhooks/{endpoint['id']}")).status_code == 204
    assert (await api.http.get(f"/v1/webhooks/{endpoint['id']}")).status_code == 404


async def test_a_sequence_pause_is_one_event_unless_an_endpoint_opts_in_to_each_recipient(
    hooks_api: Api,
) -> None:
    api = hooks_api
    plain, each = start_receiver(), start_receiver()
    try:
        await register(api, plain.url)
        await register(api, each.url, per_recipient_sequence_events=True)
        sequence = await api.create_sequence(steps=STEPS)
        sid = sequence["id"]
        people = await api.enroll(sid, *[f"p{i}@example.com" for i in range(3)])
        for person in people:
            await sent_first_step(api, sid, person["id"])
        assert (await api.http.post(f"/v1/sequences/{sid}/pause")).status_code == 200

        def paused_by_sequence(receiver: Receiver) -> list[str]:
            return [
                r.event["data"]["recipient_id"]
                for r in receiver.of_type("recipient.status_changed")
                if r.event["data"]["to"] == "paused"
            ]

        async def each_heard_all() -> None:
            assert sorted(paused_by_sequence(each)) == sorted(p["id"] for p in people)
            assert len(plain.of_type("sequence.paused")) == 1

        await assert_eventually(each_heard_all, timeout=30)
        [told] = plain.of_type("sequence.paused")
        assert told.event["data"]["holds"] == 3
        assert len(each.of_type("sequence.paused")) == 1
        assert paused_by_sequence(plain) == []  # one event for the sequence, not three
        for got in each.of_type("recipient.status_changed"):
            if got.event["data"]["to"] == "paused":
                assert got.event["data"]["hold"]["source"] == "sequence"
    finally:
        plain.close()
        each.close()
