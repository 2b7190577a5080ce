"""Holiday calendars, business-day delays and recipients' own time zones through the API:
what a sequence says it will do (next_step_at) and the clear 422s for what it cannot."""

from __future__ import annotations

import pytest

from tests.conftest import Api

SCHEDULE = {
    "timezone": "Europe/Paris",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "17:00",
    "holidays": ["FR"],
    "closed": ["2027-01-12"],
}
STEP = {"type": "email", "delay": "P3D", "business_days": True, "subject": "Hi", "body": "b"}


async def test_next_step_at_counts_business_days_where_each_recipient_lives(api: Api) -> None:
    sequence = await api.create_sequence(steps=[STEP], schedule=SCHEDULE, window_in="recipient")
    shown = (await api.http.get(f"/v1/sequences/{sequence['id']}")).json()
    assert shown["schedule"]["holidays"] == ["FR"]
    assert shown["schedule"]["closed"] == ["2027-01-12"]
    assert shown["steps"][0]["business_days"] is True and shown["window_in"] == "recipient"

    people = [
        {"email": "paris@example.com"},
        {"email": "la@example.com", "timezone": "America/Los_Angeles", "company": "Acme"},
        {"email": "tokyo@example.com", "timezone": "Asia/Tokyo"},
    ]
    # Friday 8 January 2027, 09:00 UTC; Tuesday 12 is closed for this sequence.
    enrolled = await api.http.post(
        f"/v1/sequences/{sequence['id']}/recipients",
        json={"recipients": people, "start_at": "2027-01-08T09:00:00Z"},
    )
    assert enrolled.status_code == 201, enrolled.text
    ids = {e["email"]: e["id"] for e in enrolled.json()["enrolled"]}
    due = {
        email: (await api.recipient(sequence["id"], rid))["next_step_at"]
        for email, rid in ids.items()
    }
    assert due == {
        # Paris, 10:00 Fri: Mon, Wed, Thu count (Tue closed) -> Thu 14, 10:00 CET.
        "paris@example.com": "2027-01-14T09:00:00Z",
        # Los Angeles, 01:00 Fri: -> Thu 14 at 01:00, the window opens at 09:00 PST.
        "la@example.com": "2027-01-14T17:00:00Z",
        # Tokyo, 18:00 Fri: -> Thu 14 at 18:00, past 17:00: Fri 15, 09:00 JST.
        "tokyo@example.com": "2027-01-15T00:00:00Z",
    }
    la = await api.recipient(sequence["id"], ids["la@example.com"])
    assert la["contact"]["timezone"] == "America/Los_Angeles" and la["contact"]["company"] == "Acme"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"schedule": {**SCHEDULE, "holidays": ["XX"]}}, "not a holiday calendar"),
        ({"schedule": {**SCHEDULE, "holidays": ["US-ZZ"]}}, "has no subdivision"),
        ({"schedule": {**SCHEDULE, "closed": ["2027-02-30"]}}, "closed"),
        ({"schedule": None}, "business days, which needs a schedule"),
        (
            {
                "schedule": None,
                "steps": [{**STEP, "business_days": False}],
                "window_in": "recipient",
            },
            "window_in 'recipient' needs a schedule",
        ),
        ({"window_in": "theirs"}, "window_in"),
    ],
)
async def test_what_a_schedule_cannot_be_is_a_clear_422(api: Api, change: dict, says: str) -> None:
    body = {"name": "s", "steps": [STEP], "schedule": SCHEDULE, **change}
    answer = await api.http.post("/v1/sequences", json=body)
    assert answer.status_code == 422, answer.text
    assert says in answer.text
    assert (await api.http.get("/v1/sequences")).json()["items"] == []


async def test_an_unknown_recipient_time_zone_is_a_clear_422(api: Api) -> None:
    sequence = await api.create_sequence(steps=[STEP], schedule=SCHEDULE)
    answer = await api.http.post(
        f"/v1/sequences/{sequence['id']}/recipients",
        json={"recipients": [{"email": "x@example.com", "timezone": "Mars/Olympus_Mons"}]},
    )
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["field"] == "recipients.0.timezone" and "time zone" in error["message"]
