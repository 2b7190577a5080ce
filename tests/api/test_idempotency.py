"""POSTs that are safe to retry: the same Idempotency-Key and body answer the first answer."""

from __future__ import annotations

from tests.conftest import Api

SEQUENCE = {
    "name": "Retried",
    "steps": [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "Hello"}],
}


async def count_sequences(api: Api) -> int:
    return len((await api.http.get("/v1/sequences")).json()["items"])


async def test_a_retried_create_answers_the_first_answer_and_creates_one(api: Api) -> None:
    key = {"Idempotency-Key": "create-1"}
    first = await api.http.post("/v1/sequences", json=SEQUENCE, headers=key)
    again = await api.http.post("/v1/sequences", json=SEQUENCE, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_sequences(api) == 1
    other = await api.http.post("/v1/sequences", json={**SEQUENCE, "name": "Another"}, headers=key)
    assert other.status_code == 422 and "another request" in other.json()["detail"]
    assert await count_sequences(api) == 1
    fresh = await api.http.post("/v1/sequences", json=SEQUENCE)  # no key: a new one each time
    assert fresh.status_code == 201 and await count_sequences(api) == 2


async def test_a_retried_enrollment_enrolls_nobody_twice(api: Api) -> None:
    sequence = await api.create_sequence()
    path = f"/v1/sequences/{sequence['id']}/recipients"
    body = {"recipients": [{"email": "ada@example.com"}, {"email": "bob@example.com"}]}
    key = {"Idempotency-Key": "enroll-1"}
    first = await api.http.post(path, json=body, headers=key)
    again = await api.http.post(path, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and len(first.json()["enrolled"]) == 2
    listed = (await api.http.get(path)).json()["items"]
    assert sorted(r["email"] for r in listed) == ["ada@example.com", "bob@example.com"]


async def test_a_refusal_is_kept_too_and_a_bad_key_is_refused(api: Api) -> None:
    body = {**SEQUENCE, "sender_id": "snd_nobody"}
    key = {"Idempotency-Key": "refused-1"}
    first = await api.http.post("/v1/sequences", json=body, headers=key)
    again = await api.http.post("/v1/sequences", json=body, headers=key)
    assert first.status_code == again.status_code == 422
    assert again.json()["detail"] == first.json()["detail"]
    assert again.headers["content-type"].startswith("application/problem+json")
    bad = await api.http.post("/v1/sequences", json=SEQUENCE, headers={"Idempotency-Key": "a b"})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["detail"]
    assert await count_sequences(api) == 0
