"""The console through another workspace's session: A's ids answer a 404 page, never data,
and a form without the session's CSRF token changes nothing."""

from __future__ import annotations

import re

import httpx

from tests.conftest import API_KEY, OTHER_KEY, Api


async def signed_in(api: Api, key: str) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(transport=api.http._transport, base_url="http://seqflow.test")
    answer = await http.post("/signin", data={"api_key": key})
    assert answer.status_code == 303 and answer.headers["location"] == "/sequences"
    page = await http.get("/sequences")
    [csrf] = re.findall(r'name="csrf" value="([^"]+)"', page.text)[:1]
    return http, csrf


async def test_another_workspaces_session_reaches_nothing(api: Api) -> None:
    sequence = await api.create_sequence()
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    sid, rid = sequence["id"], ada["id"]
    other, csrf = await signed_in(api, OTHER_KEY)
    base = f"/sequences/{sid}"
    for path in (base, f"{base}/recipients/{rid}", f"{base}/recipients/{rid}/pause"):
        page = await other.get(path)
        assert page.status_code == 404 and "Not found" in page.text, path
        assert "ada@example.com" not in page.text and sequence["name"] not in page.text
    for path in (f"{base}/pause", f"{base}/recipients/{rid}/stop", f"{base}/enroll"):
        answer = await other.post(path, data={"csrf": csrf, "people": "eve@example.com"})
        assert answer.status_code == 404, path
    listing = await other.get("/sequences")
    assert sequence["name"] not in listing.text
    assert (await api.recipient(sid, rid))["status"] == "in_progress"
    assert (await api.http.get(f"/v1/sequences/{sid}")).json()["status"] == "active"

    mine, _ = await signed_in(api, API_KEY)
    forged = await mine.post(f"{base}/pause", data={"csrf": "not-the-token"})
    assert forged.status_code == 404 and "expired" in forged.text
    assert (await api.http.get(f"/v1/sequences/{sid}")).json()["status"] == "active"
    signed_out = await mine.post("/signout", data={"csrf": "not-the-token"})
    assert signed_out.status_code == 404
    await other.aclose()
    await mine.aclose()
