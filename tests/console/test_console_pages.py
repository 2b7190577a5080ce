"""Console pages that need no browser to check: the errors view."""

from __future__ import annotations

from domain.failures import FailureCause
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
