"""The colleague rule end to end on the dev server: a reply from one person at a company
pauses their colleagues in the sequence (and, with scope workspace, in the others), not a
stranger who merely shares a free-mail domain; an out-of-office is not a response."""

from __future__ import annotations

import pytest

from tests.conftest import Api, assert_eventually

pytestmark = pytest.mark.devserver

STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "Hello"},
    {"type": "email", "delay": "P2D", "subject": "Following up", "body": "Any news?"},
]


async def enrolled_and_sent(api: Api, sid: str, *people: dict) -> dict[str, str]:
    answer = await api.http.post(f"/v1/sequences/{sid}/recipients", json={"recipients": people})
    assert answer.status_code == 201, answer.text
    ids = {e["email"]: e["id"] for e in answer.json()["enrolled"]}
    for rid in ids.values():

        async def sent(rid: str = rid) -> None:
            assert (await api.recipient(sid, rid))["steps"][0]["state"] == "sent"

        await assert_eventually(sent, timeout=20)
    return ids


async def test_a_reply_pauses_the_colleagues_and_not_a_free_mail_stranger(dev_api: Api) -> None:
    api = dev_api
    sequence = await api.create_sequence(steps=STEPS, on_colleague_response="pause")
    sid = sequence["id"]
    ids = await enrolled_and_sent(
        api,
        sid,
        {"email": "ada@acme.com"},
        {"email": "bob@acme.com"},
        {"email": "cy@gmail.com", "company": "Acme"},  # names the company: a colleague
        {"email": "dan@gmail.com"},
        {"email": "eve@gmail.com"},
    )
    reply = {
        "event_id": "c1",
        "from": "ada@acme.com",
        "subject": "Re: Hi",
        "text": "Interested, let's talk.",
        "in_reply_to": f"<{ids['ada@acme.com']}.0@seqflow>",
    }
    answer = (await api.http.post("/v1/events/replies", json=reply)).json()
    assert answer["matched"][0]["status"] == "responded"
    assert sorted(c["recipient_id"] for c in answer["colleagues"]) == [ids["bob@acme.com"]]
    bob = await api.recipient(sid, ids["bob@acme.com"])
    assert bob["status"] == "paused"
    assert bob["pause"]["reason"] == "colleague_responded"
    assert f"ada@acme.com replied (recipient {ids['ada@acme.com']})" == bob["pause"]["note"]
    assert bob["timeline"][-1]["kind"] == "paused"
    # cy gave no company at enrollment for ada's side to match, and gmail.com is free mail
    for stranger in ("cy@gmail.com", "dan@gmail.com", "eve@gmail.com"):
        assert (await api.recipient(sid, ids[stranger]))["status"] == "in_progress", stranger

    # dan and eve share gmail.com: strangers, so a reply from dan leaves eve alone.
    dan_reply = {**reply, "event_id": "c2", "from": "dan@gmail.com"}
    dan_reply["in_reply_to"] = f"<{ids['dan@gmail.com']}.0@seqflow>"
    answer = (await api.http.post("/v1/events/replies", json=dan_reply)).json()
    assert answer["colleagues"] == []
    assert (await api.recipient(sid, ids["eve@gmail.com"]))["status"] == "in_progress"


async def test_scope_workspace_stops_colleagues_in_other_sequences_but_not_on_an_ooo(
    dev_api: Api,
) -> None:
    api = dev_api
    first = await api.create_sequence(
        steps=STEPS, on_colleague_response="stop", colleague_scope="workspace"
    )
    other = await api.create_sequence(name="Another", steps=STEPS)
    ada = await enrolled_and_sent(api, first["id"], {"email": "ada@globex.com"})
    bob = await enrolled_and_sent(api, other["id"], {"email": "bob@globex.com"})
    out_of_office = {
        "event_id": "o1",
        "from": "ada@globex.com",
        "subject": "Automatic reply: Hi",
        "text": "I am out of the office until next Monday.",
        "headers": {"Auto-Submitted": "auto-replied"},
    }
    answer = (await api.http.post("/v1/events/replies", json=out_of_office)).json()
    assert answer["classification"] == "out_of_office" and answer["colleagues"] == []
    meeting = {"event_id": "m1", "email": "ada@globex.com", "sequence_id": first["id"]}
    answer = (await api.http.post("/v1/events/meetings", json=meeting)).json()
    assert [c["recipient_id"] for c in answer["colleagues"]] == [bob["bob@globex.com"]]
    assert (await api.recipient(other["id"], bob["bob@globex.com"]))["status"] == "stopped"
    assert (await api.recipient(first["id"], ada["ada@globex.com"]))["status"] == "meeting_booked"
