"""Console pages that need no browser to check: the errors view, a sequence's page."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.failures import FailureCause
from domain.statuses import SequenceStatus
from store.holds import PauseBarrier
from store.sequences import Sequences
from tests.conftest import API_KEY, Api, assert_eventually
from tests.console.test_console_isolation import signed_in


async def test_the_errors_view_lists_recipients_in_error_with_cause_and_fix(api: Api) -> None:
    sequence = await api.create_sequence(
        steps=[{"type": "sms", "delay": "PT0S", "body": "Hi"}],
    )
    [ada] = await api.enroll(sequence["id"], "ada@example.com")

    async def erred() -> None:
        assert (await api.recipient(sequence["id"], ada["id"]))["status"] == "error"

    await assert_eventually(erred)
    console, _ = await signed_in(api, API_KEY)
    page = await console.get(f"/sequences/{sequence['id']}/errors")
    assert page.status_code == 200
    assert "missing_phone" in page.text and FailureCause.MISSING_PHONE.fix in page.text
    assert "Ada" in page.text or "ada@example.com" in page.text
    other = await console.get(f"/sequences/{sequence['id']}/errors?cause=template_invalid")
    assert "No recipient is in error." in other.text
    await console.aclose()


async def test_pausing_contacts_in_one_sequence_touches_only_that_sequence(api: Api) -> None:
    first = await api.create_sequence(
        steps=[{"type": "email", "delay": "P1D", "subject": "Hi", "body": "x"}]
    )
    second = await api.create_sequence(
        name="Second", steps=[{"type": "email", "delay": "P1D", "subject": "Hi", "body": "x"}]
    )
    ada_first, bob_first = await api.enroll(first["id"], "ada@example.com", "bob@example.com")
    [ada_second] = await api.enroll(second["id"], "ada@example.com")
    console, csrf = await signed_in(api, API_KEY)
    page = await console.get("/contacts")
    assert "ada@example.com" in page.text and "bob@example.com" in page.text
    answer = await console.post(
        "/contacts",
        data={
            "csrf": csrf,
            "action": "pause",
            "sequence_id": second["id"],
            "contact_ids": [ada_first["contact_id"], bob_first["contact_id"]],
        },
        follow_redirects=True,
    )
    assert "Paused 1." in answer.text and "Not touched: 1" in answer.text
    assert (await api.recipient(second["id"], ada_second["id"]))["status"] == "paused"
    assert (await api.recipient(first["id"], ada_first["id"]))["status"] == "in_progress"
    await console.aclose()


async def test_bulk_pause_of_sequences_says_which_were_not_eligible(api: Api) -> None:
    first = await api.create_sequence(name="First")
    second = await api.create_sequence(name="Second")
    assert (await api.http.post(f"/v1/sequences/{second['id']}/pause")).status_code == 200
    console, csrf = await signed_in(api, API_KEY)
    answer = await console.post(
        "/sequences/bulk",
        data={"csrf": csrf, "action": "pause", "ids": [first["id"], second["id"]]},
        follow_redirects=True,
    )
    assert "Paused 1 of 2 selected." in answer.text
    assert "Not eligible: Second — pause not possible when paused" in answer.text
    assert (await api.http.get(f"/v1/sequences/{first['id']}")).json()["status"] == "paused"
    await console.aclose()


async def test_the_new_sequence_form_takes_holidays_business_days_and_the_colleague_rule(
    api: Api,
) -> None:
    console, csrf = await signed_in(api, API_KEY)
    form = {
        "csrf": csrf,
        "name": "Paris engineers",
        "steps-0-type": "email",
        "steps-0-delay": "P3D",
        "steps-0-subject": "Hi",
        "steps-0-body": "Hello",
        "steps-0-business_days": "1",
        "timezone": "Europe/Paris",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "holidays": "FR, US-CA",
        "closed": "2026-12-24",
        "window_in": "recipient",
        "on_colleague_response": "pause",
        "colleague_scope": "workspace",
        "resume_policy": "freeze",
        "stop_on_response": "1",
    }
    refused = await console.post("/sequences/new", data={**form, "holidays": "FR, XX"})
    assert refused.status_code == 422 and "is not a holiday calendar" in refused.text
    made = await console.post("/sequences/new", data=form, follow_redirects=True)
    assert "Paris engineers created." in made.text
    [sequence] = (await api.http.get("/v1/sequences")).json()["items"]
    assert sequence["schedule"]["holidays"] == ["FR", "US-CA"]
    assert sequence["schedule"]["closed"] == ["2026-12-24"]
    assert sequence["steps"][0]["business_days"] is True
    assert (sequence["window_in"], sequence["on_colleague_response"]) == ("recipient", "pause")
    assert sequence["colleague_scope"] == "workspace"
    await console.aclose()


async def test_the_sequence_page_says_how_far_a_pause_is_on_its_way(api: Api) -> None:
    sequence = await api.create_sequence(
        steps=[{"type": "email", "delay": "P1D", "subject": "Hi", "body": "x"}]
    )
    sid = sequence["id"]
    await api.enroll(sid, "ada@example.com", "bob@example.com", "cy@example.com")
    console, _ = await signed_in(api, API_KEY)
    assert "on its way" not in (await console.get(f"/sequences/{sid}")).text
    # The row as a pause's fan-out leaves it after its first recipient (activities/fanout.py).
    await PauseBarrier(api.store).follow_sequence(sid, SequenceStatus.PAUSED, 1, datetime.now(UTC))
    sequences = Sequences(api.store)
    await sequences.fan_out_begun(sid, 1)
    await sequences.fan_out_reached(sid, 1, 1)
    page = await console.get(f"/sequences/{sid}")
    assert "The pause is on its way: 1 of 3 recipients reached." in page.text
    await sequences.fan_out_reached(sid, 1, 3, done=True)
    assert "on its way" not in (await console.get(f"/sequences/{sid}")).text
    await console.aclose()


async def test_a_sender_vacation_is_planned_and_ended_from_the_senders_page(api: Api) -> None:
    created = await api.http.post("/v1/senders", json={"name": "Ada Box", "email": "a@acme.com"})
    sid = created.json()["id"]
    steps = [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "x"}]
    sequence = await api.create_sequence(steps=steps, sender_id=sid)
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    await assert_eventually(
        lambda: _status_is(api, sequence["id"], ada["id"], "in_progress"), timeout=10
    )
    console, csrf = await signed_in(api, API_KEY)
    answer = await console.post(
        f"/senders/{sid}/vacation",
        data={"csrf": csrf, "from": "", "until": "", "reason": "conference"},
        follow_redirects=True,
    )
    assert "Ada Box is on vacation" in answer.text
    assert "Away until resumed · conference" in answer.text
    assert (await api.recipient(sequence["id"], ada["id"]))["status"] == "paused"
    refused = await console.post(
        f"/senders/{sid}/vacation",
        data={"csrf": csrf, "from": "2027-01-10T09:00", "until": "2027-01-09T09:00"},
        follow_redirects=True,
    )
    assert "Not planned: until must be after from" in refused.text
    back = await console.post(f"/senders/{sid}/back", data={"csrf": csrf}, follow_redirects=True)
    assert "Ada Box is back" in back.text
    await assert_eventually(
        lambda: _status_is(api, sequence["id"], ada["id"], "in_progress"), timeout=10
    )
    await console.aclose()


async def _status_is(api: Api, sid: str, rid: str, status: str) -> None:
    assert (await api.recipient(sid, rid))["status"] == status
