"""Bulk recipient actions and the recipient list (served from the store's projection)."""

from __future__ import annotations

import pytest

from api.routes import recipient_bulk
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


async def test_a_filter_chooses_the_recipients_of_a_list_and_of_a_bulk_action(api: Api) -> None:
    """ "Resume everyone paused for out_of_office": the filter the list shows is the one the
    bulk action acts on; the others stay as they are."""
    sid, ids = await in_progress(api, 4)
    base = f"/v1/sequences/{sid}/recipients"
    for rid, reason in ((ids[0], "out_of_office"), (ids[1], "holiday")):
        paused = await api.http.post(f"{base}/{rid}/pause", json={"reason": reason})
        assert paused.status_code == 200, paused.text

    listed = (await api.http.get(f"{base}?pause_reason=out_of_office")).json()["items"]
    assert [(r["id"], r["pause_reason"], r["pause_source"]) for r in listed] == [
        (ids[0], "out_of_office", "recipient")
    ]
    searched = (await api.http.get(f"{base}?search=P2&status=in_progress")).json()["items"]
    assert [r["id"] for r in searched] == [ids[2]]

    resumed = await api.http.post(
        f"{base}/bulk",
        json={"action": "resume", "filter": {"status": "paused", "pause_reason": "out_of_office"}},
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["matched"] == 1
    assert [(i["id"], i["status"]) for i in resumed.json()["applied"]] == [(ids[0], "in_progress")]
    assert (await api.recipient(sid, ids[1]))["status"] == "paused"  # another reason: untouched

    everyone = await api.http.post(
        f"{base}/bulk", json={"action": "pause", "filter": {"status": "in_progress"}}
    )
    assert everyone.json()["matched"] == 3
    assert {i["status"] for i in everyone.json()["applied"]} == {"paused"}


async def test_a_filtered_stop_confirms_only_the_set_it_previewed(api: Api) -> None:
    sid, ids = await in_progress(api, 2)
    base = f"/v1/sequences/{sid}/recipients"
    request = {"action": "stop", "filter": {"status": "in_progress"}}
    preview = (await api.http.post(f"{base}/bulk", json=request)).json()
    assert preview["matched"] == 2 and preview["confirmation_required"]

    await api.enroll(sid, "late@example.com")  # the filter now matches a third one

    async def three_waiting() -> None:
        rows = (await api.http.get(f"{base}?status=in_progress&step=1")).json()["items"]
        assert len(rows) == 3

    await assert_eventually(three_waiting)
    token = preview["confirmation_token"]
    refused = await api.http.post(f"{base}/bulk", json={**request, "confirmation_token": token})
    assert refused.status_code == 409
    assert "the filter matches now" in refused.json()["detail"]
    assert (await api.recipient(sid, ids[0]))["status"] == "in_progress"


async def test_a_bulk_call_names_recipients_or_a_filter_and_a_filter_has_a_ceiling(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid, ids = await in_progress(api, 3)
    base = f"/v1/sequences/{sid}/recipients/bulk"
    both = {"action": "pause", "recipient_ids": ids, "filter": {"status": "in_progress"}}
    for body in (both, {"action": "pause"}):
        refused = await api.http.post(base, json=body)
        assert refused.status_code == 422
        assert "either recipient_ids or filter" in refused.json()["detail"]

    monkeypatch.setattr(recipient_bulk, "MAX_MATCHING", 2)
    too_many = await api.http.post(base, json={"action": "pause", "filter": {}})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "filter"
    assert "more than 2 recipients" in too_many.json()["detail"]
    assert (await api.recipient(sid, ids[0]))["status"] == "in_progress"
