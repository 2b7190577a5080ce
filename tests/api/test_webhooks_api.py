"""Registering outbound webhooks outside dev mode: only https to public addresses, clear
errors for bad input, nothing of another workspace; and the delivery's own address check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from activities.webhooks import Refused, WebhookSender
from store.db import Store
from store.webhooks import Webhooks
from tests.conftest import OTHER_KEY, Api


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9000/hooks", "must start with https://"),
        ("https://10.0.0.7/hooks", "private, loopback and reserved"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback and reserved"),
        ("not a url", "a URL with a host is needed"),
    ],
)
async def test_a_url_into_the_operator_s_network_is_refused(api: Api, url: str, says: str) -> None:
    answer = await api.http.post("/v1/webhooks", json={"url": url, "events": ["recipient.replied"]})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    [error] = answer.json()["errors"]
    assert error["field"] == "url" and says in error["message"]
    assert (await api.http.get("/v1/webhooks")).json()["items"] == []  # nothing half-created


@pytest.mark.parametrize(
    ("events", "says"),
    [
        ([], "at least 1"),
        (["recipient.teleported"], "recipient.status_changed"),
        (["ping"], "POST /v1/webhooks/{id}/test"),
    ],
)
async def test_events_must_be_known_ones(api: Api, events: list[str], says: str) -> None:
    answer = await api.http.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/x", "events": events}
    )
    assert answer.status_code == 422 and says in answer.text


async def test_another_workspace_s_endpoint_is_not_found(api: Api, store: Store) -> None:
    row = await Webhooks(store).create("globex", "https://hooks.example.com/x", [], None, False)
    assert (await api.http.get(f"/v1/webhooks/{row.id}")).status_code == 404
    for method, path in (
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("POST", "/test"),
        ("GET", "/deliveries"),
    ):
        answer = await api.http.request(
            method, f"/v1/webhooks/{row.id}{path}", json={} if method == "PATCH" else None
        )
        assert answer.status_code == 404, (method, path)
    other = await api.http.get("/v1/webhooks", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert [item["id"] for item in other.json()["items"]] == [row.id]
    assert other.json()["items"][0]["secret"] is None


async def test_a_name_that_resolves_to_a_private_address_is_refused_when_delivering(
    store: Store,
) -> None:
    sender = WebhookSender(Webhooks(store), dev_mode=False, poll=timedelta(seconds=1))
    with pytest.raises(Refused, match="resolves to a private or reserved address"):
        await sender._post("https://localhost/hooks", "{}", {})


async def test_a_sender_s_disconnection_is_an_event_for_its_subscribers(api: Api) -> None:
    hook = await api.http.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example.com/x", "events": ["sender.status_changed"]},
    )
    sender = await api.http.post("/v1/senders", json={"name": "Box", "email": "box@acme.com"})
    sid = sender.json()["id"]
    changed = await api.http.patch(f"/v1/senders/{sid}", json={"status": "disconnected"})
    assert changed.status_code == 200, changed.text
    log = (await api.http.get(f"/v1/webhooks/{hook.json()['id']}/deliveries")).json()["items"]
    assert [d["type"] for d in log] == ["sender.status_changed"]


async def test_a_delivery_id_out_of_range_is_a_422_not_a_500(api: Api) -> None:
    hook = await api.http.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/x", "events": ["recipient.replied"]}
    )
    wid = hook.json()["id"]
    for path in (f"deliveries/{2**40}/retry", "deliveries?cursor=99999999999999"):
        method = "POST" if path.endswith("retry") else "GET"
        answer = await api.http.request(method, f"/v1/webhooks/{wid}/{path}")
        assert answer.status_code == 422, (path, answer.text)
