"""The walking skeleton through HTTP: create, enroll, look; auth; bad input."""

from __future__ import annotations

import pytest

from tests.conftest import OTHER_KEY, Api


async def test_create_enroll_and_look(api: Api) -> None:
    sequence = await api.create_sequence()
    assert sequence["status"] == "active"
    assert [s["delay"] for s in sequence["steps"]] == ["PT0S", "P2D"]

    [enrolled] = await api.enroll(sequence["id"], "ada@example.com")
    assert enrolled["status"] == "in_progress"

    got = await api.http.get(f"/v1/sequences/{sequence['id']}")
    assert got.status_code == 200
    assert got.json()["name"] == "Backend engineers"

    recipient = await api.recipient(sequence["id"], enrolled["id"])
    assert recipient["status"] == "in_progress"
    assert recipient["contact"]["email"] == "ada@example.com"
    assert recipient["timeline"][0]["kind"] == "enrolled"
    assert recipient["timeline"][0]["actor"] == "ada.recruiter"


async def test_enrolling_the_same_email_twice_is_a_conflict(api: Api) -> None:
    sequence = await api.create_sequence()
    await api.enroll(sequence["id"], "ada@example.com")
    again = await api.http.post(
        f"/v1/sequences/{sequence['id']}/recipients",
        json={"recipients": [{"email": "ADA@example.com"}]},
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already enrolled" in again.json()["detail"]

    many = await api.http.post(
        f"/v1/sequences/{sequence['id']}/recipients",
        json={"recipients": [{"email": "ada@example.com"}, {"email": "bob@example.com"}]},
    )
    assert many.status_code == 201
    body = many.json()
    assert [e["email"] for e in body["enrolled"]] == ["bob@example.com"]
    assert body["rejected"] == [
        {"email": "ada@example.com", "reason": "already enrolled in this sequence"}
    ]


async def test_missing_or_wrong_key_is_401(api: Api) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
        response = await api.http.get("/v1/sequences", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


async def test_another_workspace_sees_404(api: Api) -> None:
    sequence = await api.create_sequence()
    [enrolled] = await api.enroll(sequence["id"], "ada@example.com")
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    for path in (
        f"/v1/sequences/{sequence['id']}",
        f"/v1/sequences/{sequence['id']}/recipients",
        f"/v1/sequences/{sequence['id']}/recipients/{enrolled['id']}",
    ):
        response = await api.http.get(path, headers=other)
        assert response.status_code == 404, path
    listed = await api.http.get("/v1/sequences", headers=other)
    assert listed.json()["items"] == []


STEP = {"type": "email", "delay": "PT0S", "subject": "s", "body": "b"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "steps": []}, "steps"),
        ({"name": "x", "steps": [{**STEP, "delay": "-P1D"}]}, "steps.0.delay"),
        ({"name": "x", "steps": [{**STEP, "delay": "two days"}]}, "steps.0.delay"),
        ({"name": "x", "steps": [{**STEP, "delay": "P1M"}]}, "steps.0.delay"),
        ({"name": "x", "steps": [{**STEP, "type": "fax"}]}, "steps.0.type"),
        ({"name": "x", "steps": [{**STEP, "body": "x" * 50_001}]}, "steps.0.body"),
        ({"name": "x", "steps": [{**STEP, "body": "{{ oops"}]}, "steps.0.body"),
        ({"name": "x", "steps": [{"type": "email", "delay": "PT0S"}]}, "steps.0"),
    ],
)
async def test_bad_sequence_is_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    response = await api.http.post("/v1/sequences", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["status"] == 422
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert (await api.http.get("/v1/sequences")).json()["items"] == []


async def test_invalid_email_is_422_and_enrolls_nobody(api: Api) -> None:
    sequence = await api.create_sequence()
    response = await api.http.post(
        f"/v1/sequences/{sequence['id']}/recipients",
        json={"recipients": [{"email": "bob@example.com"}, {"email": "not-an-address"}]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "recipients.1.email"
    listed = await api.http.get(f"/v1/sequences/{sequence['id']}/recipients")
    assert listed.json()["items"] == []


async def test_sender_edit_rejects_bad_input_and_a_same_sender_changes_nothing(api: Api) -> None:
    sequence = await api.create_sequence()
    sid = sequence["id"]
    [ada] = await api.enroll(sid, "ada@example.com")
    for body, words in (({}, "sender_id"), ({"sender_id": None, "name": "x"}, "name")):
        bad = await api.http.patch(f"/v1/sequences/{sid}", json=body)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert words in bad.json()["detail"]
    missing = await api.http.patch("/v1/sequences/seq_nope", json={"sender_id": None})
    assert missing.status_code == 404
    same = await api.http.patch(f"/v1/sequences/{sid}", json={"sender_id": None})
    assert same.status_code == 200 and same.json()["sender_id"] is None
    assert (await api.recipient(sid, ada["id"]))["status"] == "in_progress"  # not paused


async def test_a_definition_over_the_payload_budget_is_refused_and_nothing_is_created(
    api: Api,
) -> None:
    """50 steps of 45 KB bodies are within each field's limit, but each recipient's workflow
    input carries the whole definition (Temporal refuses payloads over 2 MB)."""
    body = {
        "name": "Too big",
        "steps": [
            {"type": "email", "delay": "P1D", "subject": "Hi", "body": "x" * 45_000}
            for _ in range(50)
        ],
    }
    response = await api.http.post("/v1/sequences", json=body)
    assert response.status_code == 422, response.text
    assert "bytes" in response.json()["detail"] and "steps" in response.json()["detail"]
    assert (await api.http.get("/v1/sequences")).json()["items"] == []
