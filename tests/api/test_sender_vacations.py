"""Sender vacations through the API, days at a time on the time-skipping server: a vacation
holds every recipient sending from the sender, in every sequence, and their clocks freeze
exactly for the time held — counted once when a sequence pause overlaps it.

Time is skipped only once a change's fan-out has finished (skipping time while an activity
runs stalls the time-skipping server). The API's own clock is the machine's, which skipped
time leaves behind: what the sender says of "now" is checked on unskipped time only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.api.test_ledger_suppression_senders import status_of
from tests.conftest import Api, SmtpSink, assert_eventually
from workflows.contract import sequence_workflow_id

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi", "body": "1"},
    {"type": "email", "delay": "P3D", "subject": "Again", "body": "2"},
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def sender(api: Api) -> str:
    created = await api.http.post("/v1/senders", json={"name": "Ada", "email": "ada@acme.com"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def enrolled_and_sent(api: Api, sid: str, email: str) -> tuple[str, datetime]:
    [one] = await api.enroll(sid, email)

    async def sent() -> datetime:
        shown = await api.recipient(sid, one["id"])
        assert shown["steps"][0]["state"] == "sent"
        return at(shown["steps"][0]["at"])

    return one["id"], await assert_eventually(sent)


async def fanned_out(api: Api, *sequence_ids: str) -> None:
    """Every sequence workflow has told its recipients (no fan-out activity pending)."""

    async def done() -> None:
        for sid in sequence_ids:
            handle = api.client.get_workflow_handle(sequence_workflow_id("acme", sid))
            described = await handle.describe()
            assert not described.raw_description.pending_activities

    await assert_eventually(done)


async def vacation(api: Api, sender_id: str, **body: Any) -> dict:
    answer = await api.http.post(f"/v1/senders/{sender_id}/pause", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_a_weekend_vacation_freezes_every_sequence_of_the_sender_exactly(
    api: Api, ts_env: WorkflowEnvironment, smtp: SmtpSink
) -> None:
    sid = await sender(api)
    first = await api.create_sequence(steps=STEPS, sender_id=sid)
    second = await api.create_sequence(steps=STEPS, sender_id=sid)
    other = await api.create_sequence(steps=STEPS)  # no sender: not held
    ada, ada_sent = await enrolled_and_sent(api, first["id"], "ada@example.com")
    bob, bob_sent = await enrolled_and_sent(api, second["id"], "bob@example.com")
    cy, cy_sent = await enrolled_and_sent(api, other["id"], "cy@example.com")

    # Friday 18:00 to Monday 08:00, a day after the first messages went out.
    start = max(ada_sent, bob_sent) + DAY
    until = start + timedelta(hours=62)
    shown = await vacation(
        api, sid, **{"from": start.isoformat(), "until": until.isoformat(), "reason": "weekend"}
    )
    assert shown["on_vacation"] is False
    assert [(at(v["from"]), at(v["until"]), v["current"]) for v in shown["vacations"]] == [
        (start, until, False)
    ]
    await fanned_out(api, first["id"], second["id"])
    assert (await api.recipient(first["id"], ada))["status"] == "in_progress"

    await ts_env.sleep(DAY + HOUR)  # into the vacation
    for seq, rid in ((first, ada), (second, bob)):
        held = await status_of(api, seq["id"], rid, "paused")
        assert [(h["source"], h["reason"]) for h in held["holds"]] == [("sender", "weekend")]
        assert held["pause"]["source"] == "sender" and "resume" not in held["allowed_actions"]
        refused = await api.http.post(f"/v1/sequences/{seq['id']}/recipients/{rid}/resume")
        assert refused.status_code == 409 and "resume the sender" in refused.json()["detail"]
    assert (await api.recipient(other["id"], cy))["status"] == "in_progress"

    await ts_env.sleep(62 * HOUR)  # past its end: released by their own clocks
    for seq, rid, sent in ((first, ada, ada_sent), (second, bob, bob_sent)):
        back = await status_of(api, seq["id"], rid, "in_progress")
        assert at(back["next_step_at"]) == sent + 3 * DAY + 62 * HOUR
        assert back["holds"] == [] and back["pause"] is None
    # The sequence without that sender went on as planned.
    cy_second = at((await api.recipient(other["id"], cy))["steps"][1]["at"])
    assert cy_sent + 3 * DAY <= cy_second < cy_sent + 3 * DAY + timedelta(minutes=1)

    await ts_env.sleep(3 * DAY)

    async def all_sent() -> None:
        assert sorted(m["To"] for m in smtp.messages) == sorted(
            ["ada@example.com", "bob@example.com", "cy@example.com"] * 2
        )

    await assert_eventually(all_sent)


@pytest.mark.parametrize("first_lifted", ["sequence", "vacation"])
async def test_a_vacation_and_a_sequence_pause_count_their_union_once(
    api: Api, ts_env: WorkflowEnvironment, first_lifted: str
) -> None:
    sid = await sender(api)
    steps = [STEPS[0], {**STEPS[1], "delay": "P10D"}]
    sequence = await api.create_sequence(steps=steps, sender_id=sid)
    rid, sent = await enrolled_and_sent(api, sequence["id"], "ada@example.com")
    start, until = sent + DAY, sent + 3 * DAY
    await vacation(api, sid, **{"from": start.isoformat(), "until": until.isoformat()})
    await fanned_out(api, sequence["id"])

    await ts_env.sleep(2 * DAY)  # day 2: the vacation holds
    await status_of(api, sequence["id"], rid, "paused")
    paused = await api.http.post(f"/v1/sequences/{sequence['id']}/pause")
    assert paused.status_code == 200, paused.text
    await fanned_out(api, sequence["id"])
    both = await api.recipient(sequence["id"], rid)
    assert [h["source"] for h in both["holds"]] == ["sender", "sequence"]

    if first_lifted == "sequence":
        await ts_env.sleep(DAY / 2)  # day 2.5: the sequence resumes inside the vacation
        resumed = await api.http.post(f"/v1/sequences/{sequence['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        await fanned_out(api, sequence["id"])
        still = await api.recipient(sequence["id"], rid)
        assert still["status"] == "paused" and [h["source"] for h in still["holds"]] == ["sender"]
        await ts_env.sleep(DAY)  # day 3.5: the vacation has ended
        back = await status_of(api, sequence["id"], rid, "in_progress")
        # Held from day 1 to day 3, exactly.
        assert at(back["next_step_at"]) == sent + 10 * DAY + 2 * DAY
    else:
        await ts_env.sleep(2 * DAY)  # day 4: the vacation ended on day 3; the sequence holds
        still = await api.recipient(sequence["id"], rid)
        assert still["status"] == "paused" and [h["source"] for h in still["holds"]] == ["sequence"]
        resumed = await api.http.post(f"/v1/sequences/{sequence['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        await fanned_out(api, sequence["id"])
        back = await status_of(api, sequence["id"], rid, "in_progress")
        # Held from day 1 to the resume on day 4 (plus the seconds this test took).
        held = at(back["next_step_at"]) - (sent + 10 * DAY)
        assert 3 * DAY <= held < 3 * DAY + timedelta(minutes=2)


async def test_an_open_vacation_lasts_until_the_sender_is_resumed(
    api: Api, ts_env: WorkflowEnvironment
) -> None:
    sid = await sender(api)
    sequence = await api.create_sequence(steps=STEPS, sender_id=sid)
    rid, sent = await enrolled_and_sent(api, sequence["id"], "ada@example.com")
    shown = await vacation(api, sid, reason="sick leave", note="back when better")
    assert shown["on_vacation"] is True and shown["vacations"][0]["until"] is None
    # The recipient's own view says held once the fan-out has reached it (the list shows it
    # held from the API's statement, but a projection from just before may land after it).
    await fanned_out(api, sequence["id"])
    await status_of(api, sequence["id"], rid, "paused")
    listed = await api.http.get(f"/v1/sequences/{sequence['id']}/recipients")
    assert [(r["id"], r["status"]) for r in listed.json()["items"]] == [(rid, "paused")]
    # A recipient enrolled during the vacation starts held.
    [late] = await api.enroll(sequence["id"], "bob@example.com")
    await status_of(api, sequence["id"], late["id"], "paused")

    await ts_env.sleep(2 * DAY)
    held = await api.recipient(sequence["id"], rid)
    assert held["status"] == "paused" and held["holds"][0]["note"] == "back when better"
    back = await api.http.post(f"/v1/senders/{sid}/resume")
    assert back.status_code == 200 and back.json()["on_vacation"] is False
    await fanned_out(api, sequence["id"])
    resumed = await status_of(api, sequence["id"], rid, "in_progress")
    held_for = at(resumed["next_step_at"]) - (sent + 3 * DAY)
    assert 2 * DAY <= held_for < 2 * DAY + timedelta(minutes=2)
    await status_of(api, sequence["id"], late["id"], "in_progress")
    again = await api.http.post(f"/v1/senders/{sid}/resume")
    assert again.status_code == 409 and "not on vacation" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"from": "2027-01-10T09:00:00Z", "until": "2027-01-09T09:00:00Z"}, "until must be after"),
        ({"until": "2020-01-01T09:00:00Z"}, "until must be"),
        ({"from": "2099-01-01T09:00:00Z"}, "366 days"),
        ({"from": "2027-01-10T09:00:00"}, "time zone"),
        ({"reason": "x", "colour": "red"}, "colour"),
    ],
)
async def test_a_vacation_that_cannot_be_is_a_clear_422(api: Api, body: dict, says: str) -> None:
    sid = await sender(api)
    answer = await api.http.post(f"/v1/senders/{sid}/pause", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.text
    assert (await api.http.get(f"/v1/senders/{sid}")).json()["vacations"] == []


async def test_another_workspaces_sender_is_not_found(api: Api) -> None:
    sid = await sender(api)
    other = {"Authorization": "Bearer test-key-globex"}
    assert (
        await api.http.post(f"/v1/senders/{sid}/pause", json={}, headers=other)
    ).status_code == 404
    assert (await api.http.get(f"/v1/senders/{sid}", headers=other)).status_code == 404
