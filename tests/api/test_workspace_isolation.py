"""Workspace isolation: a key of workspace B reaches nothing of workspace A, on any route.

Workspace A ("acme", the `api` fixture's key) gets a sender, a sequence on it, a recipient, a
suppression (and an inbound endpoint, where the app has them). Then every route the app serves
is called with B's key ("globex", OTHER_KEY) and A's ids in its path and body: each answer is
a refusal (404, or 422 for a body B could never make valid), or B's own (empty) data; never
A's objects. Afterwards A's objects are exactly as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.app import create_app
from settings import Settings
from tests.conftest import OTHER_KEY, Api, api_routes, assert_eventually

B = {"Authorization": f"Bearer {OTHER_KEY}"}

# FastAPI's own pages, liveness, the dev-only outbox, and the routes that take no API key at
# all (one-click unsubscribe links; a provider's signed posts to its inbound endpoint).
SKIPPED_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/healthz", "/readyz"}
SKIPPED_PREFIXES = ("/dev/", "/v1/unsubscribe/", "/v1/inbound/")
ENDPOINTS = "/v1/inbound-endpoints"  # where the app has them: A gets one too
WEBHOOKS = "/v1/webhooks"  # A gets an outbound endpoint, and a delivery to it

# Every recipient action segment (docs/api.md); the {action} route is probed with each.
ACTION_SEGMENTS = (
    "pause",
    "resume",
    "skip",
    "send-manual-email",
    "complete-task",
    "retry",
    "exclude",
    "stop",
)

MIN_PROBES = 25


def served_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route of the app with an API key, in a stable order."""
    app = create_app(Settings(api_keys="k:w", dev_mode=False))
    found = {
        (method, path)
        for method, path in api_routes(app)
        if path not in SKIPPED_PATHS and not path.startswith(SKIPPED_PREFIXES)
    }
    # Reads first, deletions last: a leaking delete must not hide what a later probe would show.
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    return sorted(found, key=lambda mp: (order.get(mp[0], 1), mp[1], mp[0]))


@dataclass
class WorkspaceA:
    sequence_id: str
    recipient_id: str
    contact_id: str
    sender_id: str
    email: str = "ada@example.com"  # the recipient's
    sender_email: str = "ada@acme.com"
    suppressed: str = "gone@example.com"
    name: str = "Acme confidential sequence"
    subject: str = "Acme confidential subject"
    endpoint_id: str | None = None  # A's inbound endpoint, where the app has them
    endpoint_secret: str | None = None
    webhook_id: str | None = None  # A's outbound webhook endpoint and one of its deliveries
    webhook_secret: str | None = None
    delivery_id: int | None = None

    @property
    def message_id(self) -> str:
        return f"<{self.recipient_id}.0@seqflow>"

    def secrets(self) -> list[str]:
        """What of A's must never appear in an answer B gets (A's recipient email aside: B
        names it itself, in its own suppressions and events)."""
        return [
            self.sequence_id,
            self.recipient_id,
            self.contact_id,
            self.sender_id,
            self.sender_email,
            self.suppressed,
            self.name,
            self.subject,
            *filter(
                None, [self.endpoint_id, self.endpoint_secret, self.webhook_id, self.webhook_secret]
            ),
        ]


async def workspace_a(api: Api) -> WorkspaceA:
    created = await api.http.post(
        "/v1/senders", json={"name": "Ada's box", "email": WorkspaceA.sender_email}
    )
    assert created.status_code == 201, created.text
    sender_id = created.json()["id"]
    sequence = await api.create_sequence(
        name=WorkspaceA.name,
        sender_id=sender_id,
        steps=[{"type": "email", "delay": "P1D", "subject": WorkspaceA.subject, "body": "Hi"}],
    )
    [enrolled] = await api.enroll(sequence["id"], WorkspaceA.email)
    suppressed = await api.http.post("/v1/suppressions", json={"email": WorkspaceA.suppressed})
    assert suppressed.status_code == 201, suppressed.text
    a = WorkspaceA(sequence["id"], enrolled["id"], enrolled["contact_id"], sender_id)
    if ("POST", ENDPOINTS) in served_routes():
        endpoint = await api.http.post(ENDPOINTS, json={"description": "Acme's provider"})
        assert endpoint.status_code == 201, endpoint.text
        a.endpoint_id, a.endpoint_secret = endpoint.json()["id"], endpoint.json()["secret"]

    if ("POST", WEBHOOKS) in served_routes():
        hook = await api.http.post(
            WEBHOOKS,
            json={"url": "https://hooks.acme.example/seqflow", "events": ["recipient.replied"]},
        )
        assert hook.status_code == 201, hook.text
        a.webhook_id, a.webhook_secret = hook.json()["id"], hook.json()["secret"]
        ping = await api.http.post(f"{WEBHOOKS}/{a.webhook_id}/test")
        assert ping.status_code == 202, ping.text
        a.delivery_id = ping.json()["id"]

    async def settled() -> None:
        recipient = await api.recipient(a.sequence_id, a.recipient_id)
        assert recipient["status"] == "in_progress" and recipient["next_step_at"], recipient

    await assert_eventually(settled)
    return a


async def snapshot(api: Api, a: WorkspaceA) -> dict[str, Any]:
    """A's objects as A sees them."""
    base = f"/v1/sequences/{a.sequence_id}"
    paths = {
        "sequence": base,
        "recipients": f"{base}/recipients",
        "recipient": f"{base}/recipients/{a.recipient_id}",
        "content": f"{base}/recipients/{a.recipient_id}/content",
        "senders": "/v1/senders",
        "suppressions": "/v1/suppressions",
    }
    if a.endpoint_id:
        paths["inbound endpoints"] = ENDPOINTS
    if a.webhook_id:
        paths["webhook"] = f"{WEBHOOKS}/{a.webhook_id}"
    seen: dict[str, Any] = {}
    for name, path in paths.items():
        response = await api.http.get(path)
        assert response.status_code == 200, f"A reads {path}: {response.text}"
        seen[name] = response.json()
    return seen


# ---- judging B's answers --------------------------------------------------------------------

Check = Callable[[httpx.Response, WorkspaceA], list[str]]


def shown(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:600]}"


def leaks(response: httpx.Response, a: WorkspaceA, echoed: tuple[str, ...] = ()) -> list[str]:
    text = response.text
    return [f"A's {s!r} in {shown(response)}" for s in a.secrets() if s in text and s not in echoed]


def refused(response: httpx.Response, a: WorkspaceA) -> list[str]:
    """404 (A's object is not B's to see), or 422 (a body B could never make valid)."""
    if response.status_code not in (404, 422):
        return [f"expected 404/422, got {shown(response)}"]
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return [f"a refusal that is not problem+json: {shown(response)}"]
    return []


def refused_or(ok: Check) -> Check:
    """A refusal, or a 2xx about B's own workspace that `ok` finds free of A's data."""

    def check(response: httpx.Response, a: WorkspaceA) -> list[str]:
        if response.is_success:
            return ok(response, a)
        return refused(response, a)

    return check


def own_data_only(response: httpx.Response, a: WorkspaceA) -> list[str]:
    return leaks(response, a)


def matched_nothing(response: httpx.Response, a: WorkspaceA) -> list[str]:
    problems = leaks(response, a)
    if response.json().get("matched") != []:
        problems.append(f"an event of B matched something: {shown(response)}")
    return problems


def unsubscribed_nobody(response: httpx.Response, a: WorkspaceA) -> list[str]:
    problems = leaks(response, a)
    if response.json().get("recipients_unsubscribed") != 0:
        problems.append(f"B's suppression unsubscribed someone: {shown(response)}")
    return problems


def eligibility_found_nothing(response: httpx.Response, a: WorkspaceA) -> list[str]:
    body = response.json()
    problems = leaks(response, a, echoed=(a.sequence_id,))
    if body != {"pause": 0, "resume": 0, "not_found": [a.sequence_id]}:
        problems.append(f"B's eligibility counts A's sequence: {shown(response)}")
    return problems


def bulk_found_nothing(response: httpx.Response, a: WorkspaceA) -> list[str]:
    body = response.json()
    problems = leaks(response, a, echoed=(a.sequence_id,))
    if body.get("applied") or any(i.get("status") for i in body.get("not_eligible", [])):
        problems.append(f"B's bulk action reached A's sequence: {shown(response)}")
    return problems


def changed_nobody(response: httpx.Response, a: WorkspaceA) -> list[str]:
    body = response.json()
    problems = leaks(response, a, echoed=(a.contact_id, a.sequence_id))
    if body.get("changed") or any(o.get("recipient_id") for o in body.get("not_changed", [])):
        problems.append(f"B's contacts call reached A's recipient: {shown(response)}")
    return problems


# ---- the probes -----------------------------------------------------------------------------


@dataclass
class Probe:
    method: str
    path: str
    body: Any = None
    check: Check = refused
    label: str = field(default="")

    def __post_init__(self) -> None:
        self.label = self.label or f"{self.method} {self.path}"


def bodies(a: WorkspaceA) -> dict[tuple[str, str], Any]:
    """A minimal valid body per write route, naming A's objects wherever a body names any."""
    content = {"subject": "B was here", "body": "B was here"}
    contacts = {"contact_ids": [a.contact_id], "sequence_id": a.sequence_id}
    step = {"type": "email", "delay": "P1D", "subject": "s", "body": "b"}
    return {
        ("POST", "/v1/sequences"): {"name": "B's", "steps": [step], "sender_id": a.sender_id},
        ("POST", "/v1/sequences/bulk"): {"action": "pause", "sequence_ids": [a.sequence_id]},
        ("PATCH", "/v1/sequences/{sequence_id}"): {"sender_id": None},
        ("PATCH", "/v1/sequences/{sequence_id}/steps/{step}"): content,
        ("POST", "/v1/sequences/{sequence_id}/recipients"): {
            "recipients": [{"email": "eve@example.com"}]
        },
        ("POST", "/v1/sequences/{sequence_id}/recipients/bulk"): {
            "action": "stop",
            "recipient_ids": [a.recipient_id],
        },
        ("PUT", "/v1/sequences/{sequence_id}/recipients/{recipient_id}/content/{step}"): content,
        ("POST", "/v1/contacts/pause"): contacts,
        ("POST", "/v1/contacts/unpause"): contacts,
        ("POST", "/v1/events/replies"): {
            "event_id": "b-reply-1",
            "from": a.email,
            "subject": "Re: hi",
            "text": "Interested!",
            "in_reply_to": a.message_id,
        },
        ("POST", "/v1/events/bounces"): {"event_id": "b-bounce-1", "email": a.email},
        ("POST", "/v1/events/unsubscribes"): {"event_id": "b-unsub-1", "email": a.email},
        ("POST", "/v1/events/meetings"): {
            "event_id": "b-meeting-1",
            "email": a.email,
            "sequence_id": a.sequence_id,
        },
        ("POST", "/v1/suppressions"): {"email": a.email},
        ("POST", "/v1/senders"): {"name": "B's box", "email": "b@globex.com"},
        ("PATCH", "/v1/senders/{sender_id}"): {"status": "disconnected"},
    }


QUERIES = {("GET", "/v1/sequences/bulk-eligibility"): "?ids={sequence_id}"}

# A route whose path names one of A's objects must refuse B; one that names none (a list, a
# create, an event) may answer B with B's own data, free of A's. These say more:
CHECKS: dict[tuple[str, str], Check] = {
    ("POST", "/v1/sequences"): refused,  # on A's sender: a body B can never make valid
    ("POST", "/v1/suppressions"): refused_or(unsubscribed_nobody),
    ("GET", "/v1/sequences/bulk-eligibility"): refused_or(eligibility_found_nothing),
    ("POST", "/v1/sequences/bulk"): refused_or(bulk_found_nothing),
    ("POST", "/v1/contacts/pause"): refused_or(changed_nobody),
    ("POST", "/v1/contacts/unpause"): refused_or(changed_nobody),
    ("POST", "/v1/events/replies"): refused_or(matched_nothing),
    ("POST", "/v1/events/bounces"): refused_or(matched_nothing),
    ("POST", "/v1/events/unsubscribes"): refused_or(matched_nothing),
    ("POST", "/v1/events/meetings"): refused_or(matched_nothing),
}

ACTION_BODIES = {"pause": {"reason": "B"}, "skip": {"step": 0}}

PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


def route_probes(a: WorkspaceA) -> Iterator[Probe]:
    values = {
        "sequence_id": a.sequence_id,
        "recipient_id": a.recipient_id,
        "sender_id": a.sender_id,
        "email": a.suppressed,
        "step": "0",
        **({"endpoint_id": a.endpoint_id} if a.endpoint_id else {}),
        **({"webhook_id": a.webhook_id} if a.webhook_id else {}),
        **({"delivery_id": str(a.delivery_id)} if a.delivery_id else {}),
    }
    known = bodies(a)
    for method, template in served_routes():
        names = PARAM.findall(template)
        unknown = [n for n in names if n not in values and n != "action"]
        assert not unknown, f"{method} {template}: no value of A's for {unknown}; add one"
        segments = ACTION_SEGMENTS if "action" in names else (None,)
        for segment in segments:
            path = PARAM.sub(
                lambda m, s=segment: s if m.group(1) == "action" else values[m.group(1)], template
            )
            path += QUERIES.get((method, template), "").format(**values)
            body = known.get((method, template))
            if segment is not None:
                body = ACTION_BODIES.get(segment, {})
            elif body is None and method in ("POST", "PUT", "PATCH"):
                body = {}  # a route this test does not know yet: an empty body
            default = refused if names else refused_or(own_data_only)
            check = CHECKS.get((method, template), default)
            yield Probe(method, path, body, check, label=f"{method} {template} [{path}]")


async def send(api: Api, probe: Probe, a: WorkspaceA) -> list[str]:
    try:
        kwargs: dict[str, Any] = {} if probe.body is None else {"json": probe.body}
        response = await api.http.request(probe.method, probe.path, headers=B, **kwargs)
    except Exception as exc:  # the in-process app raised instead of answering (a 500)
        return [f"{probe.label}: raised {exc.__class__.__name__}: {exc}"]
    return [f"{probe.label}: {problem}" for problem in probe.check(response, a)]


async def test_workspace_b_reaches_nothing_of_workspace_a_on_any_route(api: Api) -> None:
    a = await workspace_a(api)
    mine = await api.http.get("/v1/sequences", headers=B)
    assert mine.status_code == 200 and mine.json()["items"] == [], mine.text  # B's key works
    before = await snapshot(api, a)

    probes = list(route_probes(a))
    violations: list[str] = []
    for probe in probes:
        violations += await send(api, probe, a)

    assert len(probes) >= MIN_PROBES, [p.label for p in probes]
    assert not violations, f"{len(violations)} of {len(probes)} probes:\n" + "\n".join(violations)
    await assert_unchanged(api, a, before)


async def test_b_mixing_its_own_objects_with_a_s_ids_reaches_nothing(api: Api) -> None:
    """B's own sequence, with A's recipient, contact or sender named inside it."""
    a = await workspace_a(api)
    before = await snapshot(api, a)
    created = await api.http.post(
        "/v1/sequences",
        headers=B,
        json={
            "name": "B's",
            "steps": [{"type": "email", "delay": "P1D", "subject": "s", "body": "b"}],
        },
    )
    assert created.status_code == 201, created.text
    bsid = created.json()["id"]
    mine = f"/v1/sequences/{bsid}/recipients/{a.recipient_id}"
    content = {"subject": "B was here", "body": "B was here"}

    def bulk_refused(response: httpx.Response, a: WorkspaceA) -> list[str]:
        # 409 "not all eligible" lists the ids B sent: each must be "not in this sequence".
        if response.status_code not in (404, 409, 422):
            return [f"expected a refusal, got {shown(response)}"]
        items = response.json().get("not_eligible", [])
        return [f"A's recipient seen: {shown(response)}" for i in items if i.get("status")]

    probes = [
        Probe("PATCH", f"/v1/sequences/{bsid}", {"sender_id": a.sender_id}),
        Probe("GET", mine),
        Probe("GET", f"{mine}/content"),
        Probe("PUT", f"{mine}/content/0", content),
        *[Probe("POST", f"{mine}/{s}", ACTION_BODIES.get(s, {})) for s in ACTION_SEGMENTS],
        Probe(
            "POST",
            f"/v1/sequences/{bsid}/recipients/bulk",
            {"action": "pause", "recipient_ids": [a.recipient_id]},
            bulk_refused,
        ),
        Probe(
            "POST",
            "/v1/contacts/pause",
            {"contact_ids": [a.contact_id], "sequence_id": bsid},
            refused_or(changed_nobody),
        ),
        Probe("DELETE", mine),
    ]
    violations: list[str] = []
    for probe in probes:
        violations += await send(api, probe, a)
    assert not violations, "\n".join(violations)
    await assert_unchanged(api, a, before)


async def test_inbound_events_of_b_naming_a_s_recipient_match_nothing(api: Api) -> None:
    a = await workspace_a(api)
    before = await snapshot(api, a)
    events = [
        ("replies", {"event_id": "r1", "from": a.email, "subject": "Re", "text": "Yes!"}),
        ("replies", {"event_id": "r2", "from": "x@example.com", "in_reply_to": a.message_id}),
        (
            "replies",
            {"event_id": "r3", "from": "x@example.com", "headers": {"References": a.message_id}},
        ),
        ("replies", {"event_id": "r4", "from": a.email, "sequence_id": a.sequence_id}),
        ("bounces", {"event_id": "b1", "email": a.email, "kind": "hard"}),
        ("meetings", {"event_id": "m1", "email": a.email}),
        ("meetings", {"event_id": "m2", "email": a.email, "sequence_id": a.sequence_id}),
        ("unsubscribes", {"event_id": "u1", "email": a.email}),
    ]
    violations: list[str] = []
    for kind, body in events:
        probe = Probe("POST", f"/v1/events/{kind}", body, matched_nothing, f"{kind} {body}")
        violations += await send(api, probe, a)
    assert not violations, "\n".join(violations)
    await assert_unchanged(api, a, before)


async def assert_unchanged(api: Api, a: WorkspaceA, before: dict[str, Any]) -> None:
    after = await snapshot(api, a)
    recipient = after["recipient"]
    assert recipient["status"] == "in_progress" and recipient["pause"] is None, recipient
    assert all(e["actor"] == "ada.recruiter" for e in recipient["timeline"]), recipient["timeline"]
    sequence = after["sequence"]
    assert sequence["status"] == "active" and sequence["sender_id"] == a.sender_id, sequence
    [sender] = after["senders"]
    assert sender["id"] == a.sender_id and sender["status"] == "connected", sender
    assert [s["email"] for s in after["suppressions"]["items"]] == [a.suppressed]
    for name, seen in before.items():
        assert after[name] == seen, f"A's {name} changed:\n{seen}\n->\n{after[name]}"
