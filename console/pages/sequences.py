"""The sequences table (row and bulk pause/resume) and the form that creates a sequence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api import sequence_calls
from api.convert import definition_from_request
from api.problems import Problem
from api.routes.sequences import bulk_change
from api.schemas import (
    BulkSequenceAction,
    SequenceCreate,
)
from api.template_checks import refuse_unrenderable, step_fields
from console import session as sessions
from console.labels import STEP_TYPE_LABELS
from console.web import (
    PAGE,
    caller,
    current,
    first_error,
    page,
    posted,
    redirect,
    sequence_row,
    services,
)
from domain import actions
from domain.statuses import LABELS, Action, RecipientStatus, SequenceStatus, StepType
from domain.timing import WEEKDAYS
from store.accounts import Accounts
from store.sequences import Sequences, status_of

router = APIRouter(include_in_schema=False)
STEP_ROWS = 5


@router.get("/sequences", response_class=HTMLResponse)
async def sequences_page(
    request: Request, status: str | None = None, cursor: str | None = None
) -> Response:
    return await _sequences_page(request, status, cursor)


async def _sequences_page(
    request: Request, status: str | None = None, cursor: str | None = None, **extra: Any
) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    wanted = SequenceStatus(status) if status in {s.value for s in SequenceStatus} else None
    sequences = Sequences(store)
    try:
        rows, next_cursor = await sequences.page(session.workspace, wanted, PAGE, cursor)
    except ValueError:
        rows, next_cursor = await sequences.page(session.workspace, wanted, PAGE, None)
    shown = []
    for row in rows:
        counts = await sequences.recipient_counts(row.id)
        sends = await sequences.sends_per_step(row.id)
        state = status_of(row)
        shown.append(
            {
                "id": row.id,
                "name": row.name,
                "status": state.value,
                "status_label": state.value.title(),
                "counts": [(LABELS[RecipientStatus(k)], n) for k, n in sorted(counts.items())],
                "sends": sorted(sends.items()),
                "can_pause": actions.sequence_allows(Action.PAUSE, state),
                "can_resume": actions.sequence_allows(Action.RESUME, state),
            }
        )
    return page(
        request,
        session,
        "sequences.html",
        rows=shown,
        status=status,
        next_cursor=next_cursor,
        sequence_statuses=[(s.value, s.value.title()) for s in SequenceStatus],
        eligible={"pause": 0, "resume": 0},
        selected=set(),
        **extra,
    )


@router.post("/sequences/{sequence_id}/pause", response_class=HTMLResponse)
async def pause_sequence(request: Request, sequence_id: str) -> Response:
    return await _change_sequence(request, sequence_id, "pause")


@router.post("/sequences/{sequence_id}/resume", response_class=HTMLResponse)
async def resume_sequence(request: Request, sequence_id: str) -> Response:
    return await _change_sequence(request, sequence_id, "resume")


async def _change_sequence(request: Request, sequence_id: str, action: str) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = services(request)
    row = await sequence_row(store, session, sequence_id)
    back = f"/sequences/{sequence_id}" if form.get("back") == "sequence" else "/sequences"
    try:
        await sequence_calls.change_state(
            Action(action), sequence_id, caller(session), client, store
        )
    except Problem as problem:
        return redirect(request, session, back, f"{row.name}: {problem.detail}")
    done = "paused" if action == "pause" else "resumed"
    return redirect(request, session, back, f"{row.name} {done}.")


@router.post("/sequences/bulk", response_class=HTMLResponse)
async def bulk_sequences(request: Request) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = services(request)
    action = Action(str(form.get("action")))
    ids = [str(i) for i in form.getlist("ids")]
    if not ids:
        return redirect(request, session, "/sequences", "Select the sequences first.")
    try:
        body = BulkSequenceAction(action=action.value, sequence_ids=ids)  # type: ignore[arg-type]
        result = await bulk_change(body, caller(session), client, store)
    except ValidationError as exc:
        return redirect(request, session, "/sequences", f"Not done: {first_error(exc)}")
    names = {
        row.id: row.name
        for sid in result.not_eligible
        if (row := await Sequences(store).get(session.workspace, sid.id)) is not None
    }
    applied = result.applied
    not_eligible = [
        {"name": names.get(item.id, item.id), "reason": item.reason} for item in result.not_eligible
    ]
    verb = "Paused" if action is Action.PAUSE else "Resumed"
    told = f"{verb} {len(applied)} of {len(ids)} selected."
    if not_eligible:
        told += " Not eligible: " + "; ".join(f"{i['name']} — {i['reason']}" for i in not_eligible)
    return redirect(request, session, "/sequences", told)


@router.get("/sequences/new", response_class=HTMLResponse)
async def new_sequence_page(request: Request) -> Response:
    session = current(request)
    return await _new_form(request, session, {}, [])


async def _new_form(
    request: Request, session: sessions.Session, form: Any, errors: list[dict[str, str]]
) -> HTMLResponse:
    _, _, store, _, _ = services(request)
    senders = await Accounts(store).senders(session.workspace)
    return page(
        request,
        session,
        "new_sequence.html",
        http_status=422 if errors else 200,
        form=form,
        form_days=set(form.getlist("days")) if hasattr(form, "getlist") else set(),
        errors=errors,
        step_rows=STEP_ROWS,
        step_types=list(STEP_TYPE_LABELS.items()),
        weekdays=WEEKDAYS,
        senders=senders,
    )


@router.post("/sequences/new", response_class=HTMLResponse)
async def create_sequence(request: Request) -> Response:
    session, form = await posted(request)
    settings, client, store, renderer, _ = services(request)
    body, errors = _sequence_from_form(form)
    if body is not None:
        try:
            fields: dict[str, str | None] = {}
            for index, step in enumerate(body.steps):
                fields |= step_fields(f"steps.{index}.", step.model_dump())
            await refuse_unrenderable(renderer, fields, session.workspace)
            row = await sequence_calls.create(
                client, store, settings, caller(session), definition_from_request(body)
            )
        except Problem as problem:
            errors = [
                {"field": e["field"], "anchor": _anchor(e["field"]), "message": e["message"]}
                for e in problem.extra.get("errors", [])
            ] or [{"message": problem.detail}]
        else:
            return redirect(request, session, f"/sequences/{row.id}", f"{row.name} created.")
    return await _new_form(request, session, form, errors)


def _anchor(field: str) -> str:
    return field.replace(".", "-")


def _listed(text: object) -> list[str]:
    """A comma-separated field as its items."""
    return [item.strip() for item in str(text or "").split(",") if item.strip()]


def _sequence_from_form(form: Any) -> tuple[SequenceCreate | None, list[dict[str, str]]]:
    steps = []
    for i in range(STEP_ROWS):
        kind = str(form.get(f"steps-{i}-type") or "")
        if not kind:
            continue
        text, body = (
            str(form.get(f"steps-{i}-subject") or ""),
            str(form.get(f"steps-{i}-body") or ""),
        )
        step: dict[str, Any] = {
            "type": kind,
            "delay": str(form.get(f"steps-{i}-delay") or ""),
            "business_days": form.get(f"steps-{i}-business_days") == "1",
        }
        if kind == StepType.TASK:
            step |= {"title": text or None, "notes": body or None}
        else:
            step |= {"subject": text or None, "body": body or None}
            if kind in (StepType.SMS, StepType.LINKEDIN):
                step.pop("subject")
        steps.append(step)
    data: dict[str, Any] = {
        "name": str(form.get("name") or ""),
        "steps": steps,
        "resume_policy": str(form.get("resume_policy") or "freeze"),
        "stop_on_response": form.get("stop_on_response") == "1",
        "sender_id": str(form.get("sender_id") or "") or None,
        "window_in": str(form.get("window_in") or "sequence"),
        "on_colleague_response": str(form.get("on_colleague_response") or "none"),
        "colleague_scope": str(form.get("colleague_scope") or "sequence"),
    }
    if form.get("timezone"):
        data["schedule"] = {
            "timezone": str(form.get("timezone")),
            "days": [str(d) for d in form.getlist("days")],
            "start": str(form.get("start") or ""),
            "end": str(form.get("end") or ""),
            "holidays": _listed(form.get("holidays")),
            "closed": _listed(form.get("closed")),
        }
    try:
        return SequenceCreate.model_validate(data), []
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            errors.append({"field": field, "anchor": _anchor(field), "message": error["msg"]})
        return None, errors
