"""A sequence's page: its recipients table (filter, search, keyset pages, row and bulk
actions) and enrolling."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.convert import situation_of
from api.problems import Problem
from api.routes.recipient_bulk import bulk_action
from api.routes.recipients import enroll_recipients
from api.schemas import (
    BulkRecipientAction,
    EnrollRequest,
)
from console.labels import ACTION_LABELS, BLOCKED_WHY, step_label
from console.web import (
    PAGE,
    action_link,
    caller,
    current,
    first_error,
    page,
    pause_text,
    posted,
    redirect,
    row_actions,
    row_name,
    sequence_row,
    services,
    when,
    zone_of,
)
from domain import actions
from domain.statuses import LABELS, Action, RecipientStatus, SequenceStatus, StepType
from store.recipients import RecipientFilter, Recipients
from store.sequences import FanOut, Sequences, definition_of, fan_out_of, status_of

router = APIRouter(include_in_schema=False)


@router.get("/sequences/{sequence_id}", response_class=HTMLResponse)
async def sequence_page(
    request: Request,
    sequence_id: str,
    status: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> Response:
    return await _sequence_page(request, sequence_id, status, q, cursor)


async def _sequence_page(
    request: Request,
    sequence_id: str,
    status: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    **extra: Any,
) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    row = await sequence_row(store, session, sequence_id)
    definition = definition_of(row)
    paused = status_of(row) is SequenceStatus.PAUSED
    wanted = RecipientStatus(status) if status in {s.value for s in RecipientStatus} else None
    recipients = Recipients(store)
    try:
        found = await recipients.page(
            session.workspace, sequence_id, status=wanted, limit=PAGE, cursor=cursor, search=q
        )
    except ValueError:
        found = await recipients.page(
            session.workspace, sequence_id, status=wanted, limit=PAGE, cursor=None, search=q
        )
    contacts = await recipients.contacts_of(found.items)
    total = len(definition.steps)
    shown = []
    for r in found.items:
        name = row_name(r, contacts)
        allowed, blocked = row_actions(r, definition, paused)
        situation = situation_of(r, definition, paused)
        shown.append(
            {
                "id": r.id,
                "name": name,
                "email": r.email,
                "status": r.status,
                "status_label": LABELS[RecipientStatus(r.status)],
                "step": f"{min(r.current_step + 1, total)}/{total}",
                "next_at": when(r.next_step_at, zone_of(definition)),
                "pause": pause_text(r, zone_of(definition)),
                "actions": [action_link(sequence_id, r.id, a) for a in allowed],
                "blocked": [{"label": ACTION_LABELS[a], "why": BLOCKED_WHY} for a in blocked],
                # What the bulk bar's Pause/Resume Selected may do with it (domain.actions).
                "bulk_pause": actions.bulk_allowed(Action.PAUSE, situation),
                "bulk_resume": actions.bulk_allowed(Action.RESUME, situation),
            }
        )
    counts = await Sequences(store).recipient_counts(sequence_id)
    if q:
        matching = await recipients.count(
            session.workspace, sequence_id, RecipientFilter(status=wanted, search=q)
        )
    else:
        matching = counts.get(wanted.value, 0) if wanted else sum(counts.values())
    query = _filter_query(status, q) | ({"cursor": found.next_cursor} if found.next_cursor else {})
    state = status_of(row)
    return page(
        request,
        session,
        "sequence.html",
        sequence=row,
        sequence_label=state.value.title(),
        can_pause=actions.sequence_allows(Action.PAUSE, state),
        can_resume=actions.sequence_allows(Action.RESUME, state),
        counts=[(LABELS[RecipientStatus(k)], n) for k, n in sorted(counts.items())],
        fan_out=fan_out_text(fan_out_of(row, recipients_now=sum(counts.values()))),
        recipients=shown,
        status=status,
        q=q,
        next_cursor=found.next_cursor,
        next_href=f"/sequences/{sequence_id}?{urlencode(query)}",
        recipient_statuses=[(s.value, LABELS[s]) for s in RecipientStatus],
        matching=matching,
        more_than_shown=matching > len(shown),
        steps=[
            {
                "index": i,
                "label": f"Step {i + 1} ({step_label(st.type)})",
                "task": st.type == "task",
            }
            for i, st in enumerate(definition.steps)
        ],
        **extra,
    )


@router.post("/sequences/{sequence_id}/enroll", response_class=HTMLResponse)
async def enroll(request: Request, sequence_id: str) -> Response:
    session, form = await posted(request)
    settings, client, store, _, _ = services(request)
    await sequence_row(store, session, sequence_id)
    back = f"/sequences/{sequence_id}"
    people = _people(str(form.get("people") or ""))
    try:
        body = EnrollRequest.model_validate({"recipients": people})
        answer = await enroll_recipients(
            sequence_id, body, caller(session), client, store, settings
        )
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "anchor": "people", "message": e["msg"]}
            for e in exc.errors()
        ]
        return await _sequence_page(request, sequence_id, errors=errors)
    except Problem as problem:
        return redirect(request, session, back, f"Nobody enrolled: {problem.detail}")
    told = f"Enrolled {len(answer.enrolled)}."
    if answer.rejected:
        told += " Not enrolled: " + "; ".join(f"{r.email} — {r.reason}" for r in answer.rejected)
    return redirect(request, session, back, told)


def fan_out_text(fan_out: FanOut | None) -> str | None:
    """While the sequence's pause or resume is still reaching its recipients, how far it is
    (the table already shows them paused or running: this is their workflows catching up)."""
    if fan_out is None or fan_out.reached >= fan_out.total:
        return None
    change = "pause" if fan_out.epoch % 2 else "resume"  # epochs alternate, the first a pause
    return f"The {change} is on its way: {fan_out.reached} of {fan_out.total} recipients reached."


def _people(text: str) -> list[dict[str, Any]]:
    """One address per line, or a CSV whose header names email (and names, custom fields)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines and "," in lines[0] and "email" in lines[0].lower():
        people = []
        for record in csv.DictReader(io.StringIO("\n".join(lines))):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()}
            person: dict[str, Any] = {"email": row.pop("email", "") or None}
            for name in ("first_name", "last_name", "phone", "linkedin_url"):
                if row.get(name):
                    person[name] = row.pop(name)
                row.pop(name, None)
            person["fields"] = {k: v for k, v in row.items() if k and v}
            people.append(person)
        return people
    return [{"email": line.strip()} for line in lines]


@router.post("/sequences/{sequence_id}/recipients/bulk", response_class=HTMLResponse)
async def bulk_recipients(request: Request, sequence_id: str) -> Response:
    session, form = await posted(request)
    settings, client, store, renderer, _ = services(request)
    sequence = await sequence_row(store, session, sequence_id)
    action = str(form.get("action") or "")
    token = str(form.get("confirmation_token") or "") or None
    every = form.get("all_matching") == "1"
    status, q = str(form.get("status") or "") or None, str(form.get("q") or "") or None
    back = f"/sequences/{sequence_id}" + (
        f"?{urlencode(_filter_query(status, q))}" if every else ""
    )
    ids = [str(i) for i in form.getlist("ids")]
    if not ids and not every:
        return redirect(request, session, back, "Select the recipients first.")
    chosen: dict[str, Any] = (
        {"filter": {"status": status, "search": q}} if every else {"recipient_ids": ids}
    )
    if action == "edit_content":
        chosen |= _content_edit(form, definition_of(sequence).steps)
    try:
        body = BulkRecipientAction.model_validate(
            {"action": action, "confirmation_token": token, **chosen}
        )
        result = await bulk_action(
            sequence_id, body, caller(session), client, store, settings, renderer
        )
    except ValidationError as exc:
        return redirect(request, session, back, f"Not done: {first_error(exc)}")
    except Problem as problem:
        return redirect(request, session, back, f"Not done: {problem.detail}")
    if result.confirmation_required:
        verb = "Stop" if action == "stop" else "Delete"
        n = len(result.applied)
        people = f"{n} {'matching' if every else 'selected'} recipient{'s' * (n != 1)}"
        return page(
            request,
            session,
            "confirm.html",
            title=f"{verb} {n} recipient{'s' * (n != 1)}",
            what=(
                f"{verb} the sequence for {people}?"
                if verb == "Stop"
                else f"Delete {people}, with their history?"
            )
            + (
                f" {len(result.not_eligible)} are not eligible and stay as they are."
                if result.not_eligible
                else ""
            ),
            warning="This cannot be undone.",
            confirm=f"{verb} {n}",
            action=f"/sequences/{sequence_id}/recipients/bulk",
            back=back,
            hidden=[("action", action), ("confirmation_token", result.confirmation_token)]
            + (
                [("all_matching", "1"), ("status", status or ""), ("q", q or "")]
                if every
                else [("ids", i) for i in ids]
            ),
        )
    applied, skipped, failed = len(result.applied), len(result.not_eligible), len(result.failed)
    summary = f"{applied} applied, {skipped} not eligible, {failed} failed."
    return redirect(request, session, back, summary)


def _filter_query(status: str | None, q: str | None) -> dict[str, str]:
    return {k: v for k, v in {"status": status, "q": q}.items() if v}


def _content_edit(form: Any, steps: Any) -> dict[str, Any]:
    """Bulk Edit Content's fields: which step, and its new text (blank fields keep theirs); a
    task's two fields are its title and notes."""
    text = str(form.get("edit_step") or "")
    step = int(text) if text.isdigit() and int(text) < len(steps) else None
    names = ("title", "notes") if step is not None and steps[step].type is StepType.TASK else None
    fields = {
        name: str(form.get(f"edit_{given}"))
        for given, name in zip(("subject", "body"), names or ("subject", "body"), strict=True)
        if form.get(f"edit_{given}")
    }
    return {"step": step, "content": fields or None}
