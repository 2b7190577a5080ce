"""A bad-input corpus: every hostile request answers a problem, names what was wrong, and
creates or changes nothing.

Each case sends one bad request and checks (a) the status, (b) `application/problem+json`,
(c) `type`, `title`, `status`, `detail`, with the offending field named for a 422 (in `detail`
or in `errors[*].field`), and (d) that nothing was created or changed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api

PROBLEM_KEYS = ("type", "title", "status", "detail")

STEP = {"type": "email", "delay": "P1D", "subject": "Hi", "body": "Hello"}
SCHEDULE = {"timezone": "Europe/Paris", "days": ["mon", "tue"], "start": "09:00", "end": "17:00"}


def shown(response: httpx.Response) -> str:
    return f"{response.status_code} {response.headers.get('content-type')}: {response.text[:1500]}"


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    """The answer is an RFC 9457 problem with `status`; a 422 names `field`."""
    assert response.status_code == status, shown(response)
    assert response.headers["content-type"].startswith("application/problem+json"), shown(response)
    problem = response.json()
    assert isinstance(problem, dict), shown(response)
    missing = [key for key in PROBLEM_KEYS if key not in problem]
    assert not missing, f"problem lacks {missing}: {shown(response)}"
    assert problem["status"] == status, shown(response)
    assert isinstance(problem["detail"], str) and problem["detail"], shown(response)
    if field is not None:
        fields = [str(e.get("field", "")) for e in problem.get("errors", [])]
        in_detail = re.search(rf"(^|[\s;,'\"(]){re.escape(field)}\b", problem["detail"])
        named = in_detail or any(f == field or f.startswith(field + ".") for f in fields)
        assert named, f"{field!r} is not named: {shown(response)}"
    return problem  # type: ignore[no-any-return]


async def sequence_count(api: Api) -> int:
    listed = await api.http.get("/v1/sequences?limit=200")
    assert listed.status_code == 200, shown(listed)
    return len(listed.json()["items"])


def sequence_body(**overrides: Any) -> dict:
    return {"name": "Hostile", "steps": [STEP], **overrides}


def step_body(**overrides: Any) -> dict:
    return sequence_body(steps=[{**STEP, **overrides}])


# ---- sequence creation ----------------------------------------------------------------------

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"

SEQUENCE_CASES = [
    pytest.param(step_body(delay="P999999999999D"), "steps.0.delay", id="delay-overflowing"),
    pytest.param(step_body(delay="PT"), "steps.0.delay", id="delay-empty-duration"),
    pytest.param(step_body(delay="P1M"), "steps.0.delay", id="delay-in-months"),
    pytest.param(step_body(delay="-P1D"), "steps.0.delay", id="delay-negative"),
    *[
        pytest.param(
            sequence_body(schedule={**SCHEDULE, "timezone": zone}),
            "schedule.timezone",
            id=f"timezone-{zone.replace('/', '-')}",
        )
        for zone in ("localtime", "posixrules", "Factory", "Not/AZone")
    ],
    pytest.param(sequence_body(name="Back\u0000end"), "name", id="name-with-nul"),
    pytest.param(step_body(body="Hello\u0000there"), "steps.0.body", id="body-with-nul"),
    pytest.param(step_body(body="{{ 1/0 }}"), "steps.0.body", id="template-division-by-zero"),
    pytest.param(step_body(body="{{ 'x' * 10**7 }}"), "steps.0.body", id="template-huge-string"),
    pytest.param(step_body(body="{{ 2**100000 }}"), "steps.0.body", id="template-huge-number"),
    pytest.param(
        step_body(body="{{ range(10**9)|list }}"), "steps.0.body", id="template-huge-range"
    ),
    pytest.param(step_body(body=NESTED_LOOPS), "steps.0.body", id="template-nested-loops"),
    pytest.param(step_body(body="{{ first_name "), "steps.0.body", id="template-syntax-error"),
    pytest.param(sequence_body(steps=[STEP] * 51), "steps", id="51-steps"),
    pytest.param(sequence_body(colour="red"), "colour", id="unknown-field"),
]


@pytest.mark.parametrize(("body", "field"), SEQUENCE_CASES)
async def test_bad_sequence_is_a_422_problem_and_creates_nothing(
    api: Api, body: dict, field: str
) -> None:
    before = await sequence_count(api)
    started = time.monotonic()
    response = await api.http.post("/v1/sequences", json=body)
    elapsed = time.monotonic() - started
    assert_problem(response, 422, field)
    assert elapsed < 10, f"answered after {elapsed:.1f} s"
    assert await sequence_count(api) == before


async def test_a_body_that_is_not_json_is_a_422_problem_and_creates_nothing(api: Api) -> None:
    # FastAPI reports a body it cannot parse as a validation error (json_invalid): 422.
    before = await sequence_count(api)
    response = await api.http.post(
        "/v1/sequences",
        content=b'{"name": "x", "steps": [',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 422)
    assert await sequence_count(api) == before


async def test_a_json_array_instead_of_an_object_is_a_422_problem(api: Api) -> None:
    before = await sequence_count(api)
    response = await api.http.post("/v1/sequences", json=[sequence_body()])
    assert_problem(response, 422)
    assert await sequence_count(api) == before


# ---- enrollment -----------------------------------------------------------------------------


def people(n: int, **extra: Any) -> list[dict]:
    return [{"email": f"p{i}@example.com", **extra} for i in range(n)]


ENROLL_CASES = [
    pytest.param(
        {"recipients": people(1), "start_at": "2030-01-01T09:00:00"},
        "start_at",
        id="start_at-naive",
    ),
    pytest.param(
        {"recipients": people(1), "start_at": "9999-12-31T00:00:00Z"},
        "start_at",
        id="start_at-far-future",
    ),
    pytest.param(
        {"recipients": [{"first_name": "Nobody"}]}, "recipients.0", id="recipient-unreachable"
    ),
    pytest.param({"recipients": people(1_001)}, "recipients", id="1001-recipients"),
    pytest.param(
        {"recipients": people(1, fields={"company": "x" * 5_001})},
        "recipients.0.fields",
        id="custom-field-over-5000-chars",
    ),
    pytest.param(
        {"recipients": people(1, first_name="A\u0000da")},
        "recipients.0.first_name",
        id="first_name-with-nul",
    ),
]


@pytest.mark.parametrize(("body", "field"), ENROLL_CASES)
async def test_bad_enrollment_is_a_422_problem_and_enrolls_nobody(
    api: Api, body: dict, field: str
) -> None:
    sequence = await api.create_sequence(steps=[STEP])
    response = await api.http.post(f"/v1/sequences/{sequence['id']}/recipients", json=body)
    assert_problem(response, 422, field)
    listed = await api.http.get(f"/v1/sequences/{sequence['id']}/recipients")
    assert listed.status_code == 200, shown(listed)
    assert listed.json()["items"] == []


# ---- lists and ids --------------------------------------------------------------------------

MANY_IDS = ",".join(f"seq_{i}" for i in range(5_000))  # under httpx's 64 KiB URL limit

LIST_CASES = [
    pytest.param(
        "/v1/suppressions?cursor=99999999999999999999", "cursor", id="suppressions-cursor-huge"
    ),
    pytest.param("/v1/suppressions?cursor=abc", "cursor", id="suppressions-cursor-letters"),
    pytest.param("/v1/sequences?cursor=garbage", "cursor", id="sequences-cursor-garbage"),
    pytest.param("/v1/sequences?limit=0", "limit", id="sequences-limit-0"),
    pytest.param("/v1/sequences?limit=100000", "limit", id="sequences-limit-100000"),
    pytest.param(
        f"/v1/sequences/bulk-eligibility?ids={MANY_IDS}", "ids", id="eligibility-5000-ids"
    ),
]


@pytest.mark.parametrize(("path", "field"), LIST_CASES)
async def test_bad_list_query_is_a_422_problem(api: Api, path: str, field: str) -> None:
    response = await api.http.get(path)
    assert_problem(response, 422, field)
    assert await sequence_count(api) == 0


async def enrolled_one(api: Api) -> tuple[str, str]:
    """A sequence with one email step a day out, and one recipient waiting for it."""
    sequence = await api.create_sequence(steps=[STEP])
    [recipient] = await api.enroll(sequence["id"], "ada@example.com")
    return sequence["id"], recipient["id"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("ä.ö", id="letters"),
        pytest.param("²³.x", id="superscript-digits"),
        pytest.param("9999999999.ä", id="future-expiry-non-ascii-signature"),
    ],
)
async def test_bulk_stop_with_a_non_ascii_token_is_a_problem_never_a_500(
    api: Api, token: str
) -> None:
    sid, rid = await enrolled_one(api)
    response = await api.http.post(
        f"/v1/sequences/{sid}/recipients/bulk",
        json={"action": "stop", "recipient_ids": [rid], "confirmation_token": token},
    )
    assert response.status_code in (409, 422), shown(response)
    assert_problem(response, response.status_code)
    assert (await api.recipient(sid, rid))["status"] == "in_progress"


async def test_bulk_with_1001_recipient_ids_is_a_422_problem(api: Api) -> None:
    sid, rid = await enrolled_one(api)
    ids = [rid] + [f"rcp_{i:032x}" for i in range(1_000)]
    response = await api.http.post(
        f"/v1/sequences/{sid}/recipients/bulk", json={"action": "pause", "recipient_ids": ids}
    )
    assert_problem(response, 422, "recipient_ids")
    assert (await api.recipient(sid, rid))["status"] == "in_progress"


# ---- recipient actions ----------------------------------------------------------------------

ACTION_CASES = [
    pytest.param(
        "POST", "pause", {"until": "2030-01-01T09:00:00"}, 422, "until", id="pause-until-naive"
    ),
    pytest.param(
        "POST", "pause", {"until": "2020-01-01T09:00:00Z"}, 422, "until", id="pause-until-past"
    ),
    pytest.param("POST", "frobnicate", {}, 404, None, id="unknown-action"),
    pytest.param(
        "PUT", "content/99", {"subject": "s", "body": "b"}, 422, "step", id="content-step-99"
    ),
    pytest.param(
        "PUT", "content/0", {"subject": "s", "body": "a\u0000b"}, 422, "body", id="content-nul"
    ),
]


@pytest.mark.parametrize(("method", "segment", "body", "status", "field"), ACTION_CASES)
async def test_bad_recipient_action_is_a_problem_and_changes_nothing(
    api: Api, method: str, segment: str, body: dict, status: int, field: str | None
) -> None:
    sid, rid = await enrolled_one(api)
    base = f"/v1/sequences/{sid}/recipients/{rid}"
    before = await api.recipient(sid, rid)
    content_before = (await api.http.get(f"{base}/content")).json()
    response = await api.http.request(method, f"{base}/{segment}", json=body)
    assert_problem(response, status, field)
    after = await api.recipient(sid, rid)
    assert after["status"] == "in_progress" and after["pause"] is None
    assert after == before
    assert (await api.http.get(f"{base}/content")).json() == content_before


# ---- every time in an answer carries its offset ---------------------------------------------

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def datetimes(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """(JSON path, text) of every ISO datetime string anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from datetimes(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from datetimes(item, f"{where}[{index}]")
    elif isinstance(value, str) and ISO_DATETIME.match(value):
        yield where, value


async def test_every_datetime_in_an_answer_carries_a_utc_offset(api: Api) -> None:
    created = await api.http.post(
        "/v1/sequences", json=sequence_body(steps=[{**STEP, "delay": "PT0S"}, STEP])
    )
    assert created.status_code == 201, shown(created)
    sid = created.json()["id"]
    enrolled = await api.http.post(
        f"/v1/sequences/{sid}/recipients",
        json={"recipients": [{"email": "ada@example.com", "first_name": "Ada"}]},
    )
    assert enrolled.status_code == 201, shown(enrolled)
    rid = enrolled.json()["enrolled"][0]["id"]
    answers = {
        "POST /v1/sequences": created.json(),
        "GET /v1/sequences/{sid}": (await api.http.get(f"/v1/sequences/{sid}")).json(),
        "POST enroll": enrolled.json(),
        "GET recipient": await api.recipient(sid, rid),
    }
    found, naive = [], []
    for answer, body in answers.items():
        for where, text in datetimes(body):
            found.append(where)
            if not OFFSET.search(text):
                naive.append(f"{answer} {where} = {text!r}")
    assert any(w.endswith("created_at") for w in found), found
    assert any(w.endswith("].at") for w in found), found  # the timeline
    assert not naive, "datetimes without an offset:\n" + "\n".join(naive)
