"""Sequence-level pause and resume on the dev server (docs/sequence-pause.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.conftest import Api, SmtpSink, assert_eventually

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi", "body": "At {{ company }}"},
    {"type": "email", "delay": "PT8S", "subject": "Again", "body": "Still at {{ company }}?"},
]


async def enroll(api: Api, sid: str, email: str, **fields: str) -> str:
    response = await api.http.post(
        f"/v1/sequences/{sid}/recipients",
        json={"recipients": [{"email": email, "fields": fields}]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["enrolled"][0]["id"])


async def until(api: Api, sid: str, rid: str, check, timeout: float = 30) -> dict:  # type: ignore[no-untyped-def]
    async def probe() -> dict:
        view = await api.recipient(sid, rid)
        assert check(view), {k: view[k] for k in ("status", "pause", "current_step")}
        return view

    return await assert_eventually(probe, timeout=timeout)  # type: ignore[no-any-return]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_pause_holds_exactly_the_running_ones_and_resume_returns_them(
    dev_api: Api, smtp: SmtpSink
) -> None:
    sequence = await dev_api.create_sequence(steps=STEPS)
    sid = sequence["id"]
    ada = await enroll(dev_api, sid, "ada@example.com", company="Acme")
    bob = await enroll(dev_api, sid, "bob@example.com", company="Acme")
    cy = await enroll(dev_api, sid, "cy@example.com")  # no company: the template fails
    for rid in (ada, bob):
        await until(dev_api, sid, rid, lambda v: v["steps"][0]["state"] == "sent")
    await until(dev_api, sid, cy, lambda v: v["status"] == "error")
    await dev_api.http.post(f"/v1/sequences/{sid}/recipients/{bob}/pause", json={"note": "mine"})
    sent_before = len(smtp.messages)

    paused = await dev_api.http.post(f"/v1/sequences/{sid}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.json()["counts"] == {"paused": 2, "error": 1}  # shown at once, from the store
    ada_view = await until(
        dev_api, sid, ada, lambda v: (v["pause"] or {}).get("source") == "sequence"
    )
    assert ada_view["status"] == "paused"
    assert (await dev_api.recipient(sid, bob))["pause"]["source"] == "recipient"
    assert (await dev_api.recipient(sid, cy))["status"] == "error"

    refused = await dev_api.http.post(f"/v1/sequences/{sid}/recipients/{bob}/resume")
    assert refused.status_code == 409 and "sequence is paused" in refused.json()["detail"]
    again = await dev_api.http.post(f"/v1/sequences/{sid}/pause")
    assert again.status_code == 409 and again.json()["allowed_actions"] == ["resume"]

    await asyncio.sleep(9)  # past Ada's due time: nothing may go out while paused
    assert len(smtp.messages) == sent_before

    resumed = await dev_api.http.post(f"/v1/sequences/{sid}/resume")
    assert resumed.json()["status"] == "active"
    back = await until(dev_api, sid, ada, lambda v: v["status"] == "in_progress")
    # Freeze: the remainder as of the acknowledged pause, restarted at the acknowledged resume.
    paused_at = at(ada_view["pause"]["paused_at"])
    sent_at = at(ada_view["steps"][0]["at"])
    resumed_at = at([e for e in back["timeline"] if e["kind"] == "resumed"][-1]["at"])
    remaining = (sent_at.timestamp() + 8) - paused_at.timestamp()
    assert abs(at(back["next_step_at"]).timestamp() - (resumed_at.timestamp() + remaining)) < 1.0
    assert (await dev_api.recipient(sid, bob))["status"] == "paused"  # individually: stays
    assert (await dev_api.recipient(sid, cy))["status"] == "error"
    await until(dev_api, sid, ada, lambda v: v["status"] == "completed", timeout=30)


async def test_enrolled_while_paused_starts_held(dev_api: Api, smtp: SmtpSink) -> None:
    sequence = await dev_api.create_sequence(steps=STEPS)
    sid = sequence["id"]
    await dev_api.http.post(f"/v1/sequences/{sid}/pause")
    ada = await enroll(dev_api, sid, "ada@example.com", company="Acme")
    held = await until(dev_api, sid, ada, lambda v: v["status"] == "paused")
    assert held["pause"]["source"] == "sequence"
    await asyncio.sleep(1.5)
    assert smtp.to("ada@example.com") == []
    await dev_api.http.post(f"/v1/sequences/{sid}/resume")
    await until(dev_api, sid, ada, lambda v: v["steps"][0]["state"] == "sent")


async def test_concurrent_alternating_pause_resume_converges(dev_api: Api) -> None:
    sequence = await dev_api.create_sequence(steps=STEPS)
    sid = sequence["id"]
    people = [await enroll(dev_api, sid, f"p{i}@example.com", company="Acme") for i in range(5)]
    for rid in people:
        await until(dev_api, sid, rid, lambda v: v["steps"][0]["state"] == "sent")
    answers = await asyncio.gather(
        *(
            dev_api.http.post(f"/v1/sequences/{sid}/{'pause' if i % 2 == 0 else 'resume'}")
            for i in range(20)
        )
    )
    assert all(a.status_code in (200, 409) for a in answers)
    final = (await dev_api.http.get(f"/v1/sequences/{sid}")).json()["status"]
    expected = "paused" if final == "paused" else "in_progress"
    for rid in people:
        await until(dev_api, sid, rid, lambda v, e=expected: v["status"] == e)
    listed = (await dev_api.http.get(f"/v1/sequences/{sid}/recipients")).json()["items"]
    assert {row["status"] for row in listed} == {expected}


async def test_the_sequence_answer_says_how_far_its_pause_and_resume_have_reached(
    dev_api: Api,
) -> None:
    later = [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "Later"}]
    sid = (await dev_api.create_sequence(steps=later))["id"]
    assert (await dev_api.http.get(f"/v1/sequences/{sid}")).json()["fan_out"] is None
    people = [{"email": f"p{i}@example.com"} for i in range(30)]
    enrolled = await dev_api.http.post(
        f"/v1/sequences/{sid}/recipients", json={"recipients": people}
    )
    assert len(enrolled.json()["enrolled"]) == 30, enrolled.text

    async def reached_all(answer: dict, epoch: int, seen: list[dict]) -> None:
        seen.append(answer["fan_out"])

        async def probe() -> None:
            fan_out = (await dev_api.http.get(f"/v1/sequences/{sid}")).json()["fan_out"]
            seen.append(fan_out)
            assert fan_out == {"epoch": epoch, "reached": 30, "total": 30}

        await assert_eventually(probe, timeout=30, interval=0.05)
        # Every answer on the way was this change's, counting up to the 30 it had to reach.
        assert {f["epoch"] for f in seen} == {epoch} and {f["total"] for f in seen} == {30}
        reached = [f["reached"] for f in seen]
        assert reached == sorted(reached) and reached[0] in (0, 30)

    paused = await dev_api.http.post(f"/v1/sequences/{sid}/pause")
    assert paused.status_code == 200, paused.text
    await reached_all(paused.json(), 1, [])
    listed = (await dev_api.http.get(f"/v1/sequences/{sid}/recipients?limit=100")).json()
    assert {row["status"] for row in listed["items"]} == {"paused"}

    resumed = await dev_api.http.post(f"/v1/sequences/{sid}/resume")
    assert resumed.status_code == 200, resumed.text
    await reached_all(resumed.json(), 2, [])
    listed = (await dev_api.http.get(f"/v1/sequences/{sid}/recipients?limit=100")).json()
    assert {row["status"] for row in listed["items"]} == {"in_progress"}
    assert [s["fan_out"] for s in (await dev_api.http.get("/v1/sequences")).json()["items"]] == [
        {"epoch": 2, "reached": 30, "total": 30}
    ]


async def test_bulk_eligibility_and_bulk_pause(dev_api: Api) -> None:
    first = (await dev_api.create_sequence(steps=STEPS))["id"]
    second = (await dev_api.create_sequence(steps=STEPS))["id"]
    await dev_api.http.post(f"/v1/sequences/{second}/pause")
    counts = await dev_api.http.get(f"/v1/sequences/bulk-eligibility?ids={first},{second},nope")
    assert counts.json() == {"pause": 1, "resume": 1, "not_found": ["nope"]}
    bulk = await dev_api.http.post(
        "/v1/sequences/bulk", json={"action": "pause", "sequence_ids": [first, second]}
    )
    body = bulk.json()
    assert [a["id"] for a in body["applied"]] == [first]
    assert body["not_eligible"][0]["id"] == second
    assert "not possible when paused" in body["not_eligible"][0]["reason"]


async def test_sequence_content_edit_reaches_those_who_have_not_reached_the_step(
    dev_api: Api,
) -> None:
    steps = [
        {"type": "email", "delay": "PT0S", "subject": "Hi", "body": "One"},
        {"type": "email", "delay": "PT1S", "subject": "Again", "body": "Old two"},
    ]
    sequence = await dev_api.create_sequence(steps=steps)
    sid = sequence["id"]
    past = await enroll(dev_api, sid, "past@example.com")
    await until(dev_api, sid, past, lambda v: v["status"] == "completed")
    later = "2027-01-04T09:00:00Z"
    response = await dev_api.http.post(
        f"/v1/sequences/{sid}/recipients",
        json={
            "recipients": [{"email": "a@example.com"}, {"email": "b@example.com"}],
            "start_at": later,
        },
    )
    own, plain = (e["id"] for e in response.json()["enrolled"])
    personal = await dev_api.http.put(
        f"/v1/sequences/{sid}/recipients/{own}/content/1", json={"body": "Personal two"}
    )
    assert personal.status_code == 200

    edited = await dev_api.http.patch(f"/v1/sequences/{sid}/steps/1", json={"body": "New two"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["steps"][1]["body"] == "New two"

    async def body_of(rid: str) -> str:
        panel = (await dev_api.http.get(f"/v1/sequences/{sid}/recipients/{rid}/content")).json()
        return str(panel["steps"][1]["body"])

    async def plain_updated() -> None:
        assert await body_of(plain) == "New two"

    await assert_eventually(plain_updated)
    assert await body_of(own) == "Personal two"  # a personal edit wins
    assert await body_of(past) == "Old two"  # already sent: unchanged
    bad = await dev_api.http.patch(f"/v1/sequences/{sid}/steps/7", json={"body": "x"})
    assert bad.status_code == 422


async def sender(api: Api, name: str, email: str) -> str:
    created = await api.http.post("/v1/senders", json={"name": name, "email": email})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_changing_the_sender_pauses_the_running_ones_and_later_mail_comes_from_it(
    dev_api: Api, smtp: SmtpSink
) -> None:
    old = await sender(dev_api, "Ada Box", "ada@acme.com")
    new = await sender(dev_api, "Grace Box", "grace@acme.com")
    steps = [
        {"type": "email", "delay": "PT0S", "subject": "Hi", "body": "One"},
        {"type": "email", "delay": "PT4S", "subject": "Again", "body": "Two"},
    ]
    sid = (await dev_api.create_sequence(steps=steps, sender_id=old))["id"]
    ada = await enroll(dev_api, sid, "ada@example.com")
    bob = await enroll(dev_api, sid, "bob@example.com")
    for rid in (ada, bob):
        await until(dev_api, sid, rid, lambda v: v["steps"][0]["state"] == "sent")
    await dev_api.http.post(f"/v1/sequences/{sid}/recipients/{bob}/pause", json={"note": "mine"})
    assert smtp.to("ada@example.com")[0]["From"] == "Ada Box <ada@acme.com>"

    unknown = await dev_api.http.patch(f"/v1/sequences/{sid}", json={"sender_id": "snd_nope"})
    assert unknown.status_code == 422 and "snd_nope" in unknown.json()["detail"]
    changed = await dev_api.http.patch(f"/v1/sequences/{sid}", json={"sender_id": new})
    assert changed.status_code == 200, changed.text
    assert changed.json()["sender_id"] == new and changed.json()["status"] == "active"
    assert changed.json()["counts"] == {"paused": 2}  # shown at once, from the store
    held = await until(
        dev_api, sid, ada, lambda v: (v["pause"] or {}).get("reason") == "sender_changed"
    )
    assert (held["status"], held["pause"]["source"]) == ("paused", "recipient")
    assert "sender_changed" in [e["kind"] for e in held["timeline"]]
    assert (await dev_api.recipient(sid, bob))["pause"]["note"] == "mine"  # his own pause stands

    await asyncio.sleep(5)  # past Ada's due time: nothing goes out until a person resumes her
    assert len(smtp.to("ada@example.com")) == 1
    resumed = await dev_api.http.post(f"/v1/sequences/{sid}/recipients/{ada}/resume")
    assert resumed.status_code == 200, resumed.text
    await until(dev_api, sid, ada, lambda v: v["status"] == "completed", timeout=15)
    assert [m["From"] for m in smtp.to("ada@example.com")] == [
        "Ada Box <ada@acme.com>",
        "Grace Box <grace@acme.com>",
    ]


async def test_a_sender_change_while_the_sequence_is_paused_is_accepted_by_its_resume(
    dev_api: Api, smtp: SmtpSink
) -> None:
    old = await sender(dev_api, "Ada Box", "ada@acme.com")
    new = await sender(dev_api, "Grace Box", "grace@acme.com")
    steps = [{"type": "email", "delay": "PT1S", "subject": "Hi", "body": "One"}]
    sid = (await dev_api.create_sequence(steps=steps, sender_id=old))["id"]
    await dev_api.http.post(f"/v1/sequences/{sid}/pause")
    ada = await enroll(dev_api, sid, "ada@example.com")
    await until(dev_api, sid, ada, lambda v: v["status"] == "paused")
    changed = await dev_api.http.patch(f"/v1/sequences/{sid}", json={"sender_id": new})
    assert changed.json()["counts"] == {"paused": 1}
    await until(dev_api, sid, ada, lambda v: "sender_changed" in [e["kind"] for e in v["timeline"]])
    await dev_api.http.post(f"/v1/sequences/{sid}/resume")
    await until(dev_api, sid, ada, lambda v: v["status"] == "completed")
    assert [m["From"] for m in smtp.to("ada@example.com")] == ["Grace Box <grace@acme.com>"]
