"""A provider's own inbound endpoint: its signed posts work without an API key; unsigned,
wrongly signed, tampered or stale posts are refused and change nothing."""

from __future__ import annotations

import json
import time

from domain.signatures import sign
from tests.conftest import OTHER_KEY, Api, assert_eventually


async def signed_post(
    api: Api, url: str, secret: str, body: dict, *, at: int | None = None, tamper: bool = False
) -> tuple[int, dict]:
    raw = json.dumps(body).encode()
    timestamp = at or int(time.time())
    headers = {
        "Authorization": "",
        "Content-Type": "application/json",
        "Seqflow-Timestamp": str(timestamp),
        "Seqflow-Signature": sign(secret, timestamp, raw),
    }
    sent = raw.replace(b"ada", b"bob") if tamper else raw
    response = await api.http.post(
        url.removeprefix("http://127.0.0.1:8000"), content=sent, headers=headers
    )
    return response.status_code, response.json()


async def test_a_signed_reply_reaches_its_recipient_and_forgeries_change_nothing(api: Api) -> None:
    sequence = await api.create_sequence(
        steps=[{"type": "email", "delay": "P1D", "subject": "Hi", "body": "Hello"}]
    )
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    created = await api.http.post("/v1/inbound-endpoints", json={"description": "mail provider"})
    assert created.status_code == 201
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    replies = endpoint["url"] + "/replies"
    reply = {"event_id": "p-1", "from": "ada@example.com", "subject": "Re: Hi", "text": "Sure"}

    refused = [
        await signed_post(api, replies, "whsec_wrong", reply),
        await signed_post(api, replies, endpoint["secret"], reply, at=int(time.time()) - 600),
        await signed_post(api, replies, endpoint["secret"], reply, tamper=True),
    ]
    unsigned = await api.http.post(
        replies.removeprefix("http://127.0.0.1:8000"), json=reply, headers={"Authorization": ""}
    )
    assert [status for status, _ in refused] + [unsigned.status_code] == [401, 401, 401, 401]
    assert "signature refused" in refused[1][1]["detail"]
    assert (await api.recipient(sequence["id"], ada["id"]))["status"] == "in_progress"

    status, answer = await signed_post(api, replies, endpoint["secret"], reply)
    assert status == 200 and answer["classification"] == "reply"
    assert [m["recipient_id"] for m in answer["matched"]] == [ada["id"]]

    async def responded() -> None:
        assert (await api.recipient(sequence["id"], ada["id"]))["status"] == "responded"

    await assert_eventually(responded)


async def test_a_rotated_secret_keeps_the_old_one_for_a_while_and_is_the_workspaces_own(
    api: Api,
) -> None:
    endpoint = (await api.http.post("/v1/inbound-endpoints", json={})).json()
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    path = f"/v1/inbound-endpoints/{endpoint['id']}/rotate-secret"
    assert (await api.http.post(path, headers=other)).status_code == 404
    rotated = (await api.http.post(path)).json()
    assert rotated["secret"] != endpoint["secret"] and rotated["previous_secret_valid_until"]
    listed = (await api.http.get("/v1/inbound-endpoints")).json()["items"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and listed[0]["secret"] is None
    assert (await api.http.get("/v1/inbound-endpoints", headers=other)).json()["items"] == []
    bounce = {"event_id": "b-1", "email": "nobody@example.com", "kind": "hard"}
    bounces = endpoint["url"] + "/bounces"
    for secret in (endpoint["secret"], rotated["secret"]):
        status, answer = await signed_post(api, bounces, secret, bounce)
        assert status == 200 and answer["matched"] == []
    delete = f"/v1/inbound-endpoints/{endpoint['id']}"
    assert (await api.http.delete(delete, headers=other)).status_code == 404
    assert (await api.http.delete(delete)).status_code == 200
    status, _ = await signed_post(api, bounces, rotated["secret"], bounce)
    assert status == 404
