"""The action table (docs/statuses-and-actions.md) through HTTP: every status × every action,
on the time-skipping server.

Allowed → the answer shows the effect. Rejected → 409 with status_now and allowed_actions, and
the workflow's history holds no trace of the attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, assert_eventually
from tests.domain.test_actions_table import SPEC, expected
from workflows.contract import recipient_workflow_id
from workflows.models import InboundEvent
from workflows.recipient import RecipientWorkflow

EMAIL = {"type": "email", "subject": "Hi {{ first_name }}", "body": "Hello"}
TWO_EMAILS = [{**EMAIL, "delay": "PT0S"}, {**EMAIL, "delay": "P2D"}]
TASK_THEN_EMAIL = [{"type": "task", "delay": "PT0S", "title": "Call"}, {**EMAIL, "delay": "P1D"}]
BROKEN = [{**EMAIL, "delay": "PT0S", "body": "{{ nickname }}"}, {**EMAIL, "delay": "P1D"}]
INBOUND = {
    "responded": "reply",
    "meeting_booked": "meeting",
    "bounced": "hard_bounce",
    "unsubscribed": "unsubscribe",
}
URL_ACTIONS = ["pause", "resume", "skip", "stop", "retry", "exclude", "complete_task"]
URL_ACTIONS += ["send_manual_email"]


async def recipient_in(api: Api, status: str) -> tuple[str, str]:
    """A fresh recipient in `status`, reached the way a user's actions or events reach it."""
    steps = {"pending_action": TASK_THEN_EMAIL, "error": BROKEN}.get(status, TWO_EMAILS)
    if status == "completed":
        steps = TWO_EMAILS[:1]
    sequence = await api.create_sequence(steps=steps)
    sid = sequence["id"]
    extra: dict[str, Any] = {}
    if status in ("not_started", "excluded"):
        extra["start_at"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    [enrolled] = await api.enroll(sid, "ada@example.com", **extra)
    rid = enrolled["id"]
    settle = {
        "not_started": "not_started",
        "excluded": "not_started",
        "pending_action": "pending_action",
        "error": "error",
        "completed": "completed",
    }.get(status, "in_progress")

    async def settled() -> None:
        current = await api.recipient(sid, rid)
        assert current["status"] == settle
        if settle == "in_progress":
            assert current["steps"][0]["state"] == "sent"

    await assert_eventually(settled)
    base = f"/v1/sequences/{sid}/recipients/{rid}"
    if status in ("paused", "stopped", "excluded"):
        action = {"paused": "pause", "stopped": "stop", "excluded": "exclude"}[status]
        assert (await api.http.post(f"{base}/{action}")).status_code == 200
    if status in INBOUND:
        handle = api.client.get_workflow_handle(recipient_workflow_id("acme", sid, rid))
        await handle.signal(
            RecipientWorkflow.inbound, InboundEvent(event_id=f"e-{rid}", kind=INBOUND[status])
        )
    await assert_eventually(lambda: _has_status(api, sid, rid, status))
    return sid, rid


async def _has_status(api: Api, sid: str, rid: str, status: str) -> None:
    assert (await api.recipient(sid, rid))["status"] == status


async def accepted_updates(api: Api, sid: str, rid: str) -> int:
    handle = api.client.get_workflow_handle(recipient_workflow_id("acme", sid, rid))
    history = await handle.fetch_history()
    return sum(
        e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events
    )


async def perform(api: Api, sid: str, rid: str, action: str, status: str):  # type: ignore[no-untyped-def]
    base = f"/v1/sequences/{sid}/recipients/{rid}"
    if action == "delete":
        return await api.http.delete(base)
    if action == "edit_content":
        step = 0 if status == "error" else 1
        return await api.http.put(
            f"{base}/content/{step}", json={"body": "Edited {{ first_name }}"}
        )
    if action == "view_content":
        return await api.http.get(f"{base}/content")
    return await api.http.post(f"{base}/{action.replace('_', '-')}")


CELLS = [
    (status, action)
    for status in SPEC
    for action in [*URL_ACTIONS, "edit_content", "view_content", "delete"]
]


@pytest.mark.parametrize(("status", "action"), CELLS)
async def test_cell(api: Api, status: str, action: str) -> None:
    sid, rid = await recipient_in(api, status)
    allowed = expected(status)
    if status == "pending_action":
        allowed -= {"send_manual_email"}  # the pending step is a task
    before = await accepted_updates(api, sid, rid)
    response = await perform(api, sid, rid, action, status)

    if action == "view_content":
        # The content panel always opens: read-only where view_content is offered, in edit
        # mode where the table offers edit_content instead.
        assert response.status_code == 200
        assert response.json()["mode"] == ("view" if "edit_content" not in allowed else "edit")
        if "view_content" not in allowed:
            assert "edit_content" in allowed
        return

    if action not in allowed:
        assert response.status_code == 409, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status_now"] == status
        assert set(problem["allowed_actions"]) == allowed
        assert await accepted_updates(api, sid, rid) == before  # no trace in history
        return

    assert response.status_code == 200, response.text
    body = response.json()
    effect = {
        "pause": lambda b: b["status"] == "paused" and b["pause"]["source"] == "recipient",
        "resume": lambda b: b["status"] == "in_progress" and b["pause"] is None,
        "skip": lambda b: (
            b["steps"][0 if status in ("error", "pending_action") else 1]["state"] == "skipped"
        ),
        "stop": lambda b: (
            b["status"] == "stopped" and b["allowed_actions"] == ["view_content", "delete"]
        ),
        "retry": lambda b: b["error"] is None and b["status"] == "in_progress",
        "exclude": lambda b: b["status"] == "excluded",
        "complete_task": lambda b: b["steps"][0]["state"] == "completed" and b["current_step"] == 1,
        "edit_content": lambda b: any(e["kind"] == "content_edited" for e in b["timeline"]),
        "delete": lambda b: b["status"] == "deleted",
    }[action]
    assert effect(body), body
    if action == "delete":
        gone = await api.http.get(f"/v1/sequences/{sid}/recipients/{rid}")
        assert gone.status_code == 404
    if action == "edit_content" and status != "error":
        panel = (await api.http.get(f"/v1/sequences/{sid}/recipients/{rid}/content")).json()
        assert panel["steps"][1]["body"] == "Edited Ada" and panel["steps"][1]["edited"]
