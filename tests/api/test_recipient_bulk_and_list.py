"""Bulk recipient actions and the recipient list (served from the store's projection)."""

from __future__ import annotations

from tests.conftest import Api, assert_eventually


async def in_progress(api: Api, n: int) -> tuple[str, list[str]]:
    sequence = await api.create_sequence()
    enrolled = await api.enroll(sequence["id"], *[f"p{i}@example.com" for i in range(n)])
    ids = [e["id"] for e in enrolled]

    async def all_waiting() -> None:
        page = await api.http.get(f"/v1/sequences/{sequence['id']}/recipients?status=in_progress")
        rows = page.json()["items"]
        assert len(rows) == n and all(r["current_step"] == 1 for r in rows)

    await assert_eventually(all_waiting)
    return sequence["id"], ids


async def test_list_pages_by_cursor_with_allowed_actions(api: Api) -> None:
    sid, ids = await in_progress(api, 5)
    seen, cursor = [], None
    while True:
        url = f"/v1/sequences/{sid}/recipients?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.http.get(url)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [row["id"] for row in seen] == ids
    assert seen[0]["allowed_actions"] == ["pause", "skip", "edit_content", "stop", "delete"]
    assert seen[0]["next_step_at"] is not None
    bad = await api.http.get(f"/v1/sequences/{sid}/recipients?cursor=%%%")
    assert bad.status_code == 422


async def test_bulk_pause_needs_all_eligible_then_applies_to_all(api: Api) -> None:
    sid, ids = await in_progress(api, 3)
    base = f"/v1/sequences/{sid}/recipients"
    assert (await api.http.post(f"{base}/{ids[0]}/pause")).status_code == 200
    refused = await api.http.post(f"{base}/bulk", json={"action": "pause", "recipient_ids": ids})
    assert refused.status_code == 409
    assert [item["id"] for item in refused.json()["not_eligible"]] == [ids[0]]
    assert (await api.recipient(sid, ids[1]))["status"] == "in_progress"  # nothing done

    paused = await api.http.post(
        f"{base}/bulk", json={"action": "pause", "recipient_ids": ids[1:], "note": "webinar"}
    )
    assert paused.status_code == 200
    assert [(i["id"], i["status"]) for i in paused.json()["applied"]] == [
        (ids[1], "paused"),
        (ids[2], "paused"),
    ]
    resumed = await api.http.post(f"{base}/bulk", json={"action": "resume", "recipient_ids": ids})
    assert {i["status"] for i in resumed.json()["applied"]} == {"in_progress"}


async def test_bulk_stop_needs_the_confirmation_token(api: Api) -> None:
    sid, ids = await in_progress(api, 2)
    base = f"/v1/sequences/{sid}/recipients"
    first = await api.http.post(f"{base}/bulk", json={"action": "stop", "recipient_ids": ids})
    preview = first.json()
    assert preview["confirmation_required"] and preview["confirmation_token"]
    assert (await api.recipient(sid, ids[0]))["status"] == "in_progress"  # not yet

    wrong = await api.http.post(
        f"{base}/bulk",
        json={
            "action": "stop",
            "recipient_ids": ids[:1],
            "confirmation_token": preview["confirmation_token"],
        },
    )
    assert wrong.status_code == 409  # a token covers exactly the recipients it was issued for

    done = await api.http.post(
        f"{base}/bulk",
        json={
            "action": "stop",
            "recipient_ids": ids,
            "confirmation_token": preview["confirmation_token"],
        },
    )
    assert [i["status"] for i in done.json()["applied"]] == ["stopped", "stopped"]


async def test_bulk_delete_removes_them_and_reports_strangers(api: Api) -> None:
    sid, ids = await in_progress(api, 2)
    base = f"/v1/sequences/{sid}/recipients"
    request = {"action": "delete", "recipient_ids": [*ids, "rcp_nobody"]}
    token = (await api.http.post(f"{base}/bulk", json=request)).json()["confirmation_token"]
    done = (
        await api.http.post(f"{base}/bulk", json={**request, "confirmation_token": token})
    ).json()
    assert [i["id"] for i in done["applied"]] == ids
    assert done["not_eligible"] == [
        {"id": "rcp_nobody", "status": None, "reason": "not in this sequence"}
    ]
    for rid in ids:
        assert (await api.http.get(f"{base}/{rid}")).status_code == 404
