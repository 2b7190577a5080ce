"""Inbound webhooks end to end on the dev server: replies (and out-of-office), bounces,
unsubscribes, meetings, contacts pause/unpause — and redelivery changing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api, assert_eventually

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "Hello"},
    {"type": "email", "delay": "P2D", "subject": "Following up", "body": "Any news?"},
]


async def running(api: Api, *emails: str) -> tuple[str, list[dict]]:
    sequence = await api.create_sequence(steps=STEPS)
    enrolled = await api.enroll(sequence["id"], *emails)
    for person in enrolled:

        async def first_sent(p: dict = person) -> None:
            view = await api.recipient(sequence["id"], p["id"])
            assert view["steps"][0]["state"] == "sent"

        await assert_eventually(first_sent, timeout=20)
    return sequence["id"], enrolled


async def test_reply_by_message_id_and_redelivery_changes_nothing(dev_api: Api) -> None:
    sid, [ada] = await running(dev_api, "ada@example.com")
    reply = {
        "event_id": "evt-1",
        "from": "someone-else@example.com",  # forwarded: the thread id decides, not the sender
        "subject": "Re: Hi Ada",
        "text": "Thanks, let's talk on Thursday.\n\nOn Mon, Ada wrote:\n> Hello",
        "in_reply_to": f"<{ada['id']}.0@seqflow>",
    }
    first = await dev_api.http.post("/v1/events/replies", json=reply)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["classification"] == "reply" and body["duplicate"] is False
    assert body["matched"] == [
        {"sequence_id": sid, "recipient_id": ada["id"], "status": "responded"}
    ]

    again = (await dev_api.http.post("/v1/events/replies", json=reply)).json()
    assert again["duplicate"] is True and again["matched"] == body["matched"]
    view = await dev_api.recipient(sid, ada["id"])
    assert [e["kind"] for e in view["timeline"]].count("inbound_reply") == 1
    assert view["allowed_actions"] == ["view_content", "delete"]


async def test_out_of_office_pauses_until_the_return_morning(dev_api: Api) -> None:
    sid, [ada, bob] = await running(dev_api, "ada@example.com", "bob@example.com")
    auto = {"Auto-Submitted": "auto-replied"}
    dated = await dev_api.http.post(
        "/v1/events/replies",
        json={
            "event_id": "ooo-1",
            "from": "ada@example.com",
            "subject": "Automatic reply: Hi Ada",
            "text": "I am out of the office until December 14, 2026 with limited access to email.",
            "headers": auto,
            "received_at": "2026-11-23T10:00:00Z",
        },
    )
    assert dated.json()["classification"] == "out_of_office"
    view = await dev_api.recipient(sid, ada["id"])
    assert view["status"] == "paused"
    assert view["pause"]["reason"] == "out_of_office"
    assert view["pause"]["until"] == "2026-12-14T09:00:00Z"  # the morning, sequence tz (UTC)

    undated = await dev_api.http.post(
        "/v1/events/replies",
        json={
            "event_id": "ooo-2",
            "from": "bob@example.com",
            "subject": "Réponse automatique : absent",
            "text": "Je suis absent du bureau. Pour toute urgence, contactez mon équipe.",
            "headers": auto,
        },
    )
    assert undated.json()["classification"] == "out_of_office"
    view = await dev_api.recipient(sid, bob["id"])
    assert view["status"] == "paused" and view["pause"]["until"] is None  # waits for a person


async def test_hard_soft_and_raw_dsn_bounces(dev_api: Api) -> None:
    sid, [ada, bob, cy] = await running(
        dev_api, "ada@example.com", "bob@example.com", "cy@example.com"
    )
    hard = await dev_api.http.post(
        "/v1/events/bounces", json={"event_id": "b1", "email": "ada@example.com", "kind": "hard"}
    )
    assert hard.json()["matched"][0]["status"] == "bounced"
    assert (await dev_api.recipient(sid, ada["id"]))["allowed_actions"] == [
        "view_content",
        "delete",
    ]

    soft = await dev_api.http.post(
        "/v1/events/bounces", json={"event_id": "b2", "email": "bob@example.com", "kind": "soft"}
    )
    assert soft.json()["matched"][0]["status"] == "in_progress"  # recorded, retried later
    timeline = (await dev_api.recipient(sid, bob["id"]))["timeline"]
    assert "inbound_soft_bounce" in [e["kind"] for e in timeline]

    dsn = (
        "From: MAILER-DAEMON@mx.example.com\nTo: outreach@seqflow.localhost\n"
        "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThis is the mail system.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; cy@example.com\nAction: failed\nStatus: 5.1.1\n\n"
        "--B--\n"
    )
    raw = await dev_api.http.post("/v1/events/bounces", json={"event_id": "b3", "raw": dsn})
    assert raw.json()["classification"] == "hard"
    assert raw.json()["matched"] == [
        {"sequence_id": sid, "recipient_id": cy["id"], "status": "bounced"}
    ]


async def test_unsubscribe_event_reaches_every_sequence(dev_api: Api) -> None:
    sid1, [a] = await running(dev_api, "ada@example.com")
    sid2, [b] = await running(dev_api, "ada@example.com")
    answer = await dev_api.http.post(
        "/v1/events/unsubscribes", json={"event_id": "u1", "email": "ada@example.com"}
    )
    statuses = {m["recipient_id"]: m["status"] for m in answer.json()["matched"]}
    assert statuses == {a["id"]: "unsubscribed", b["id"]: "unsubscribed"}
    for sid, person in ((sid1, a), (sid2, b)):

        async def unsubscribed(s: str = sid, p: dict = person) -> None:
            assert (await dev_api.recipient(s, p["id"]))["status"] == "unsubscribed"

        await assert_eventually(unsubscribed)
    refused = await dev_api.http.post(
        f"/v1/sequences/{sid1}/recipients", json={"recipients": [{"email": "ada@example.com"}]}
    )
    assert refused.status_code == 409


async def test_meeting_booked_and_events_recorded_while_paused(dev_api: Api) -> None:
    sid, [_ada, bob] = await running(dev_api, "ada@example.com", "bob@example.com")
    at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    booked = await dev_api.http.post(
        "/v1/events/meetings",
        json={"event_id": "m1", "email": "ada@example.com", "sequence_id": sid, "at": at},
    )
    assert booked.json()["matched"][0]["status"] == "meeting_booked"

    await dev_api.http.post(f"/v1/sequences/{sid}/recipients/{bob['id']}/pause")
    soft = await dev_api.http.post(
        "/v1/events/bounces", json={"event_id": "b9", "email": "bob@example.com", "kind": "soft"}
    )
    assert soft.json()["matched"][0]["status"] == "paused"
    kinds = [e["kind"] for e in (await dev_api.recipient(sid, bob["id"]))["timeline"]]
    assert "inbound_soft_bounce" in kinds  # recorded even while paused


async def test_contacts_pause_and_unpause_in_one_sequence(dev_api: Api) -> None:
    sid, [ada] = await running(dev_api, "ada@example.com")
    other_sid, [bob] = await running(dev_api, "bob@example.com")
    body = {"contact_ids": [ada["contact_id"], bob["contact_id"]], "sequence_id": sid}
    paused = (await dev_api.http.post("/v1/contacts/pause", json=body)).json()
    assert [(c["contact_id"], c["status"]) for c in paused["changed"]] == [
        (ada["contact_id"], "paused")
    ]
    assert paused["not_changed"] == [
        {
            "contact_id": bob["contact_id"],
            "recipient_id": None,
            "status": None,
            "reason": "not enrolled in this sequence",
        }
    ]
    assert (await dev_api.recipient(other_sid, bob["id"]))["status"] == "in_progress"
    unpaused = (await dev_api.http.post("/v1/contacts/unpause", json=body)).json()
    assert [c["status"] for c in unpaused["changed"]] == ["in_progress"]
