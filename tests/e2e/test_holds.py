"""Holds end to end on the dev server, over HTTP, with second-scale delays: a sender's vacation
with `until` a few seconds away lifts by itself and the next step goes out at its delay plus
the time held; a bulk resume by `pause_reason` touches only those paused for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api.routes import recipient_bulk
from store.tables import PendingPauseRow
from tests.conftest import Api, SmtpSink, assert_eventually
from tests.e2e.test_http_on_dev_server import wait_status

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi", "body": "One"},
    {"type": "email", "delay": "PT4S", "subject": "Again", "body": "Two"},
]


async def test_a_vacation_with_until_lifts_by_itself_and_the_step_waits_the_held_time(
    dev_api: Api, smtp: SmtpSink
) -> None:
    api = dev_api
    created = await api.http.post("/v1/senders", json={"name": "Ada", "email": "ada@acme.com"})
    sid = created.json()["id"]
    sequence = await api.create_sequence(steps=STEPS, sender_id=sid)
    [ada] = await api.enroll(sequence["id"], "ada@example.com")

    async def first_sent() -> datetime:
        shown = await api.recipient(sequence["id"], ada["id"])
        assert shown["steps"][0]["state"] == "sent"
        return datetime.fromisoformat(shown["steps"][0]["at"])

    sent = await assert_eventually(first_sent, timeout=20)
    # Away from one second after the first message, for three seconds.
    start = sent + timedelta(seconds=1)
    until = start + timedelta(seconds=3)
    body = {"from": start.isoformat(), "until": until.isoformat(), "reason": "dentist"}
    answer = await api.http.post(f"/v1/senders/{sid}/pause", json=body)
    assert answer.status_code == 200, answer.text

    held = await wait_status(api, sequence["id"], ada["id"], "paused", timeout=10)
    assert held["holds"][0]["source"] == "sender" and held["holds"][0]["reason"] == "dentist"
    back = await wait_status(api, sequence["id"], ada["id"], "in_progress", timeout=15)
    due = datetime.fromisoformat(back["next_step_at"])
    # The 4 s delay plus the 3 s held, to the millisecond the workflow's clock keeps.
    assert abs(due - (sent + timedelta(seconds=7))) < timedelta(milliseconds=50)

    await wait_status(api, sequence["id"], ada["id"], "completed", timeout=20)
    second = datetime.fromtimestamp(smtp.received_at[-1], UTC)
    assert len(smtp.to("ada@example.com")) == 2
    # Not before delay + held time; a dev server on two cores takes a moment more.
    assert second >= sent + timedelta(seconds=7) - timedelta(milliseconds=50)
    assert second < sent + timedelta(seconds=10)


async def test_bulk_resume_by_pause_reason_touches_only_those(dev_api: Api) -> None:
    api = dev_api
    steps = [STEPS[0], {**STEPS[1], "delay": "P2D"}]
    sequence = await api.create_sequence(steps=steps)
    sid = sequence["id"]
    people = [f"p{i}@example.com" for i in range(6)]
    enrolled = await api.enroll(sid, *people)
    ids = [e["id"] for e in enrolled]
    for rid in ids:
        await wait_status(api, sid, rid, "in_progress", timeout=20)
    for i, rid in enumerate(ids):
        reason = "out_of_office" if i % 2 else "on_leave"
        paused = await api.http.post(
            f"/v1/sequences/{sid}/recipients/{rid}/pause", json={"reason": reason}
        )
        assert paused.status_code == 200, paused.text

    answer = await api.http.post(
        f"/v1/sequences/{sid}/recipients/bulk",
        json={"action": "resume", "filter": {"pause_reason": "out_of_office"}},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["matched"] == 3
    for i, rid in enumerate(ids):
        want = "in_progress" if i % 2 else "paused"
        shown = await wait_status(api, sid, rid, want, timeout=10)
        if want == "paused":
            assert shown["pause"]["reason"] == "on_leave"

    nothing = await api.http.post(
        f"/v1/sequences/{sid}/recipients/bulk",
        json={"action": "resume", "filter": {"pause_reason": "no_such_reason"}},
    )
    assert nothing.status_code == 200, nothing.text
    assert nothing.json()["matched"] == 0


async def test_a_large_bulk_pause_is_shown_at_once_and_reaches_every_workflow_after(
    dev_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over `INLINE` recipients a bulk pause answers with one statement's view, then its own
    durable fan-out pauses each workflow (and lets go of the ledger's barrier)."""
    monkeypatch.setattr(recipient_bulk, "INLINE", 2)
    api = dev_api
    steps = [STEPS[0], {**STEPS[1], "delay": "P2D"}]
    sequence = await api.create_sequence(steps=steps)
    sid = sequence["id"]
    ids = [e["id"] for e in await api.enroll(sid, *(f"q{i}@example.com" for i in range(8)))]
    for rid in ids:
        await wait_status(api, sid, rid, "in_progress", timeout=20)
    base = f"/v1/sequences/{sid}/recipients"

    answer = await api.http.post(
        f"{base}/bulk",
        json={"action": "pause", "filter": {"status": "in_progress"}, "reason": "webinar"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["matched"] == 8 and body["fan_out"]
    assert {item["status"] for item in body["applied"]} == {"paused"}
    # The list shows it at once, before the workflows have been reached.
    listed = (await api.http.get(base, params={"status": "paused", "limit": 50})).json()
    assert len(listed["items"]) == 8

    for rid in ids:

        async def taken(rid: str = rid) -> None:
            shown = await api.recipient(sid, rid)
            assert shown["status"] == "paused" and shown["pause"]["reason"] == "webinar"
            assert shown["timeline"][-1]["kind"] == "paused"

        await assert_eventually(taken, timeout=20)

    async def barrier_released() -> None:
        async with api.store.sessions() as session:
            assert not (await session.scalars(select(PendingPauseRow))).all()

    await assert_eventually(barrier_released, timeout=10)

    resumed = await api.http.post(
        f"{base}/bulk", json={"action": "resume", "filter": {"pause_reason": "webinar"}}
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["matched"] == 8 and resumed.json()["fan_out"]
    for rid in ids:
        await wait_status(api, sid, rid, "in_progress", timeout=20)
