"""The console's pages. Each handler asks the same code as the HTTP API (api/*_calls.py, the
store classes, domain.actions) and renders what it answers; a refusal (a Problem) becomes a
message on the page, never a second rule."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api import recipient_calls, sequence_calls
from api.convert import definition_from_request, situation_of
from api.deps import Caller
from api.problems import Problem
from api.routes import contacts as contact_routes
from api.routes import senders as sender_routes
from api.routes.recipient_bulk import bulk_action
from api.routes.recipients import enroll_recipients
from api.routes.sequences import bulk_change
from api.routes.suppressions import suppress_address
from api.schemas import (
    BulkRecipientAction,
    BulkSequenceAction,
    ContactsInSequence,
    EnrollRequest,
    SenderCreate,
    SenderUpdate,
    SequenceCreate,
    SuppressionCreate,
)
from api.template_checks import refuse_unrenderable, step_fields
from console import session as sessions
from console.labels import ACTION_LABELS, BLOCKED_WHY, STEP_TYPE_LABELS, step_label
from domain import actions
from domain.failures import FailureCause, fix_for
from domain.models import StepContent
from domain.statuses import LABELS, Action, RecipientStatus, SequenceStatus, StepType
from domain.timing import WEEKDAYS
from store.accounts import Accounts, Contacts
from store.recipients import Recipients
from store.sequences import Sequences, definition_of, status_of
from store.tables import RecipientRow, SequenceRow
from workflows.models import (
    ActionRequest,
    EditContentRequest,
    PauseRequest,
    RecipientView,
    SendManualEmailRequest,
    SkipRequest,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE = 50
STEP_ROWS = 5


class SignInFirst(Exception):
    pass


class NotHere(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


# ---- plumbing -------------------------------------------------------------------------------


def _state(request: Request) -> tuple[Any, Any, Any, Any, Any]:
    app = request.app.state
    return app.settings, app.client, app.store, app.renderer, app.settings.temporal_namespace


def current(request: Request) -> sessions.Session:
    settings = request.app.state.settings
    found = sessions.decode(settings, request.cookies.get(sessions.COOKIE))
    if found is None:
        raise SignInFirst
    return found


async def posted(request: Request) -> tuple[sessions.Session, Any]:
    """The session and the form of a state-changing request, its CSRF token checked."""
    session = current(request)
    form = await request.form()
    if not sessions.csrf_ok(session, str(form.get("csrf") or "")):
        raise NotHere("this form has expired; go back, reload the page and try again")
    return session, form


def caller(session: sessions.Session) -> Caller:
    return Caller(workspace=session.workspace, actor=session.actor)


def page(
    request: Request,
    session: sessions.Session | None,
    template: str,
    http_status: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = session.flash if session else None
    response = templates.TemplateResponse(
        request, template, {"session": session, "flash": flash, **context}, status_code=http_status
    )
    if session and flash:  # shown once
        _set_cookie(request, response, session.__class__(**{**session.__dict__, "flash": None}))
    return response


def redirect(
    request: Request, session: sessions.Session, to: str, flash: str | None = None
) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    _set_cookie(request, response, sessions.Session(**{**session.__dict__, "flash": flash}))
    return response


def _set_cookie(request: Request, response: Response, session: sessions.Session) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        sessions.COOKIE,
        sessions.encode(settings, session),
        max_age=sessions.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


async def _sequence(store: Any, session: sessions.Session, sequence_id: str) -> SequenceRow:
    row = await Sequences(store).get(session.workspace, sequence_id)
    if row is None:
        raise NotHere(f"There is no sequence {sequence_id} in this workspace.")
    return row


async def _recipient(
    store: Any, session: sessions.Session, sequence_id: str, recipient_id: str
) -> RecipientRow:
    row = await Recipients(store).get(session.workspace, sequence_id, recipient_id)
    if row is None:
        raise NotHere(f"There is no recipient {recipient_id} in this sequence.")
    return row


def _when(moment: datetime | None, timezone: str = "UTC") -> str | None:
    """A moment as a person reads it: in the sequence's sending-window time zone, if any."""
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime(f"%Y-%m-%d %H:%M {timezone}")


def _zone(definition: Any) -> str:
    schedule = definition.settings.schedule
    return schedule.timezone if schedule else "UTC"


def _utc(text: str | None) -> datetime | None:
    """A datetime-local field, read as UTC (the form says so)."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _problem_text(problem: Problem) -> str:
    return problem.detail


# ---- signing in -----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return RedirectResponse("/sequences", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> Response:
    return page(request, None, "signin.html")


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    form = await request.form()
    found = sessions.sign_in(request.app.state.settings, str(form.get("api_key") or "").strip())
    if found is None:
        errors = [{"field": "API key", "anchor": "api_key", "message": "this key is not known"}]
        return page(request, None, "signin.html", http_status=401, errors=errors)
    return redirect(request, found, "/sequences")


@router.get("/login/{token}", response_class=HTMLResponse)
async def one_time_link(request: Request, token: str) -> Response:
    found = sessions.use_login_link(request.app.state.settings, token)
    if found is None:
        errors = [{"message": "this sign-in link has expired or was used; sign in with a key"}]
        return page(request, None, "signin.html", http_status=401, errors=errors)
    return redirect(request, found, "/sequences")


@router.post("/signout", response_class=HTMLResponse)
async def signout(request: Request) -> Response:
    await posted(request)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(sessions.COOKIE)
    return response


# ---- sequences ------------------------------------------------------------------------------


@router.get("/sequences", response_class=HTMLResponse)
async def sequences_page(
    request: Request, status: str | None = None, cursor: str | None = None
) -> Response:
    return await _sequences_page(request, status, cursor)


async def _sequences_page(
    request: Request, status: str | None = None, cursor: str | None = None, **extra: Any
) -> Response:
    session = current(request)
    _, _, store, _, _ = _state(request)
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
    _, client, store, _, _ = _state(request)
    row = await _sequence(store, session, sequence_id)
    back = f"/sequences/{sequence_id}" if form.get("back") == "sequence" else "/sequences"
    try:
        await sequence_calls.change_state(
            Action(action), sequence_id, caller(session), client, store
        )
    except Problem as problem:
        return redirect(request, session, back, f"{row.name}: {_problem_text(problem)}")
    done = "paused" if action == "pause" else "resumed"
    return redirect(request, session, back, f"{row.name} {done}.")


@router.post("/sequences/bulk", response_class=HTMLResponse)
async def bulk_sequences(request: Request) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = _state(request)
    action = Action(str(form.get("action")))
    ids = [str(i) for i in form.getlist("ids")]
    if not ids:
        return redirect(request, session, "/sequences", "Select the sequences first.")
    try:
        body = BulkSequenceAction(action=action.value, sequence_ids=ids)  # type: ignore[arg-type]
        result = await bulk_change(body, caller(session), client, store)
    except ValidationError as exc:
        return redirect(request, session, "/sequences", f"Not done: {_first_error(exc)}")
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
    _, _, store, _, _ = _state(request)
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
    settings, client, store, renderer, _ = _state(request)
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
        step: dict[str, Any] = {"type": kind, "delay": str(form.get(f"steps-{i}-delay") or "")}
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
    }
    if form.get("timezone"):
        data["schedule"] = {
            "timezone": str(form.get("timezone")),
            "days": [str(d) for d in form.getlist("days")],
            "start": str(form.get("start") or ""),
            "end": str(form.get("end") or ""),
        }
    try:
        return SequenceCreate.model_validate(data), []
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            errors.append({"field": field, "anchor": _anchor(field), "message": error["msg"]})
        return None, errors


# ---- a sequence and its recipients ----------------------------------------------------------


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
    _, _, store, _, _ = _state(request)
    row = await _sequence(store, session, sequence_id)
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
        name = _row_name(r, contacts)
        allowed, blocked = _row_actions(r, definition, paused)
        shown.append(
            {
                "id": r.id,
                "name": name,
                "email": r.email,
                "status": r.status,
                "status_label": LABELS[RecipientStatus(r.status)],
                "step": f"{min(r.current_step + 1, total)}/{total}",
                "next_at": _when(r.next_step_at, _zone(definition)),
                "pause": _pause_text(r),
                "actions": [_action_link(sequence_id, r.id, a) for a in allowed],
                "blocked": [{"label": ACTION_LABELS[a], "why": BLOCKED_WHY} for a in blocked],
            }
        )
    counts = await Sequences(store).recipient_counts(sequence_id)
    query = {k: v for k, v in {"status": status, "q": q, "cursor": found.next_cursor}.items() if v}
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
        recipients=shown,
        status=status,
        q=q,
        next_cursor=found.next_cursor,
        next_href=f"/sequences/{sequence_id}?{urlencode(query)}",
        recipient_statuses=[(s.value, LABELS[s]) for s in RecipientStatus],
        **extra,
    )


def _row_name(row: RecipientRow, contacts: dict[str, Any]) -> str:
    """What a person calls a recipient in a table: the contact's name, else its address."""
    contact = contacts.get(row.contact_id)
    name = " ".join(filter(None, [contact.first_name, contact.last_name])) if contact else ""
    return name or row.email or row.id


def _pause_text(row: RecipientRow) -> str | None:
    if row.status != RecipientStatus.PAUSED:
        return None
    return "by the sequence" if row.pause_source == "sequence" else "paused"


def _row_actions(
    row: RecipientRow, definition: Any, sequence_paused: bool
) -> tuple[list[Action], list[Action]]:
    """What the row may do (domain.actions), and what it could do but for the sequence pause."""
    now = actions.allowed_actions(situation_of(row, definition, sequence_paused))
    if not sequence_paused:
        return now, []
    otherwise = actions.allowed_actions(situation_of(row, definition, False))
    return now, [a for a in otherwise if a not in now]


def _action_link(sequence_id: str, recipient_id: str, action: Action) -> dict[str, str]:
    base = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    if action in (Action.VIEW_CONTENT, Action.EDIT_CONTENT):
        return {"label": ACTION_LABELS[action], "href": f"{base}#content", "confirm": ""}
    return {"label": ACTION_LABELS[action], "href": f"{base}/{action.url_segment}", "confirm": "1"}


@router.post("/sequences/{sequence_id}/enroll", response_class=HTMLResponse)
async def enroll(request: Request, sequence_id: str) -> Response:
    session, form = await posted(request)
    settings, client, store, _, _ = _state(request)
    await _sequence(store, session, sequence_id)
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


# ---- one recipient --------------------------------------------------------------------------


async def _view(request: Request, session: sessions.Session, sid: str, rid: str) -> Any:
    _, client, store, _, _ = _state(request)
    await _recipient(store, session, sid, rid)
    handle = recipient_calls.handle_for(client, session.workspace, sid, rid)
    return handle, await recipient_calls.view(handle)


def _name(view: RecipientView) -> str:
    contact = view.contact
    return (
        " ".join(filter(None, [contact.first_name, contact.last_name])) or contact.email or view.id
    )


@router.get("/sequences/{sequence_id}/recipients/{recipient_id}", response_class=HTMLResponse)
async def recipient_page(request: Request, sequence_id: str, recipient_id: str) -> Response:
    session = current(request)
    _, _, store, renderer, _ = _state(request)
    sequence = await _sequence(store, session, sequence_id)
    try:
        handle, view = await _view(request, session, sequence_id, recipient_id)
        steps, previews = await recipient_calls.content_previews(
            handle, view, renderer, session.workspace
        )
    except Problem as problem:
        raise NotHere(problem.detail) from None
    allowed = [Action(a) for a in view.allowed_actions]
    paused = status_of(sequence) is SequenceStatus.PAUSED
    row = await _recipient(store, session, sequence_id, recipient_id)
    _, blocked = _row_actions(row, definition_of(sequence), paused)
    editing = Action.EDIT_CONTENT in allowed
    total = len(view.steps)
    return page(
        request,
        session,
        "recipient.html",
        sequence=sequence,
        view=view,
        name=_name(view),
        status_label=LABELS[view.status],
        step=f"{min(view.current_step + 1, total)}/{total}",
        next_at=_when(view.next_step_at, _zone(definition_of(sequence))),
        actions=[
            _action_link(sequence_id, recipient_id, a)
            for a in allowed
            if a not in (Action.VIEW_CONTENT, Action.EDIT_CONTENT, Action.RETRY)
        ],
        blocked=[{"label": ACTION_LABELS[a], "why": BLOCKED_WHY} for a in blocked],
        can_retry=Action.RETRY in allowed,
        content=[
            {
                "index": s.index,
                "type": STEP_TYPE_LABELS[s.type],
                "state": s.state.value,
                "error": error,
                "editable": editing and s.editable,
                **fields,
            }
            for s, (fields, error) in zip(steps, previews, strict=True)
        ],
        timeline=[
            {
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor,
                "details": e.details,
                "details_text": ", ".join(f"{k}: {v}" for k, v in e.details.items()),
            }
            for e in reversed(view.timeline)
        ],
    )


@router.get(
    "/sequences/{sequence_id}/recipients/{recipient_id}/content/{step}", response_class=HTMLResponse
)
async def edit_content_page(
    request: Request, sequence_id: str, recipient_id: str, step: int
) -> Response:
    session = current(request)
    handle, view = await _view(request, session, sequence_id, recipient_id)
    steps = await recipient_calls.content(handle)
    if not 0 <= step < len(steps) or steps[step].content is None:
        raise NotHere("There is no such step.")
    content = steps[step].content
    assert content is not None
    names = ["title", "notes"] if steps[step].type is StepType.TASK else ["subject", "body"]
    return page(
        request,
        session,
        "edit_content.html",
        name=_name(view),
        step=step,
        back=f"/sequences/{sequence_id}/recipients/{recipient_id}",
        fields=[{"name": n, "label": n.title(), "value": getattr(content, n)} for n in names],
    )


@router.post(
    "/sequences/{sequence_id}/recipients/{recipient_id}/content/{step}", response_class=HTMLResponse
)
async def edit_content(
    request: Request, sequence_id: str, recipient_id: str, step: int
) -> Response:
    session, form = await posted(request)
    _, client, store, renderer, _ = _state(request)
    back = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    row = await _recipient(store, session, sequence_id, recipient_id)
    edit = StepContent(
        **{k: str(form[k]) for k in ("subject", "body", "title", "notes") if form.get(k)}
    )
    try:
        await refuse_unrenderable(renderer, step_fields("", edit.model_dump()), session.workspace)
        await recipient_calls.refuse_while_sequence_paused(
            store, caller(session), row, Action.EDIT_CONTENT
        )
        handle = recipient_calls.handle_for(client, session.workspace, sequence_id, recipient_id)
        await recipient_calls.act(
            handle,
            Action.EDIT_CONTENT,
            EditContentRequest(actor=session.actor, step=step, content=edit),
        )
    except Problem as problem:
        return redirect(request, session, back, f"Not saved: {problem.detail}")
    return redirect(request, session, back, f"Step {step + 1} content saved.")


def _confirmation(view: RecipientView, action: Action, definition: Any) -> dict[str, Any]:
    """What the confirmation page says will happen, in the articles' words."""
    name = _name(view)
    index = view.current_step
    steps = definition.steps
    if action is Action.PAUSE:
        return {
            "title": "Pause Recipient",
            "what": f"Pause sequence for {name}? No further steps will be executed until resumed.",
            "confirm": "Pause",
            "pause_fields": True,
        }
    if action is Action.RESUME:
        return {
            "title": "Resume Recipient",
            "what": f"Resume sequence for {name}? Their steps go on from where they were paused.",
            "confirm": "Resume",
        }
    if action is Action.SKIP:
        if index + 1 < len(steps):
            after = steps[index + 1]
            following = (
                f"The next step will be step {index + 2} ({step_label(after.type)}), "
                f"due {after.delay_text or after.delay} after the skip."
            )
        else:
            following = f"This is the last step: {name} completes."
        return {
            "title": "Skip Step",
            "what": f"Skip step {index + 1} for {name}? {following}",
            "confirm": "Skip step",
        }
    if action is Action.STOP:
        return {
            "title": "Stop Sequence",
            "what": f"Stop the sequence for {name}? No further steps will be sent to them.",
            "warning": "This cannot be undone.",
            "confirm": "Stop sequence",
        }
    if action is Action.DELETE:
        return {
            "title": "Delete Recipient",
            "what": f"Delete {name} from this sequence, with their history and reporting?",
            "warning": "This cannot be undone.",
            "confirm": "Delete recipient",
        }
    if action is Action.SEND_MANUAL_EMAIL:
        return {
            "title": "Send Manual Email",
            "what": f"Send step {index + 1}'s email to {name}, now or at a time you choose?",
            "confirm": "Send",
            "at_field": True,
        }
    if action is Action.COMPLETE_TASK:
        return {
            "title": "Complete Task",
            "what": f"Mark step {index + 1}'s task as done for {name}?",
            "confirm": "Complete task",
        }
    if action is Action.EXCLUDE:
        return {
            "title": "Exclude",
            "what": f"Exclude {name}? They will not start this sequence.",
            "warning": "This cannot be undone.",
            "confirm": "Exclude",
        }
    return {
        "title": ACTION_LABELS[action],
        "what": f"{ACTION_LABELS[action]} for {name}?",
        "confirm": ACTION_LABELS[action],
    }


@router.get(
    "/sequences/{sequence_id}/recipients/{recipient_id}/{segment}", response_class=HTMLResponse
)
async def confirm_page(
    request: Request, sequence_id: str, recipient_id: str, segment: str
) -> Response:
    session = current(request)
    _, _, store, _, _ = _state(request)
    action = _action(segment)
    sequence = await _sequence(store, session, sequence_id)
    _, view = await _view(request, session, sequence_id, recipient_id)
    back = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    if action.value not in view.allowed_actions:
        return redirect(
            request,
            session,
            back,
            f"{ACTION_LABELS[action]} is not possible now ({LABELS[view.status]}).",
        )
    return page(
        request,
        session,
        "confirm.html",
        action=f"{back}/{segment}",
        back=back,
        hidden=[("step", view.current_step)] if action is Action.SKIP else [],
        **_confirmation(view, action, definition_of(sequence)),
    )


def _action(segment: str) -> Action:
    try:
        action = Action.from_url_segment(segment)
    except ValueError:
        raise NotHere(f"There is no action {segment!r}.") from None
    if action in (Action.VIEW_CONTENT, Action.EDIT_CONTENT):
        raise NotHere(f"There is no action {segment!r}.")
    return action


@router.post(
    "/sequences/{sequence_id}/recipients/{recipient_id}/{segment}", response_class=HTMLResponse
)
async def do_action(
    request: Request, sequence_id: str, recipient_id: str, segment: str
) -> Response:
    session, form = await posted(request)
    _, client, store, _, namespace = _state(request)
    action = _action(segment)
    row = await _recipient(store, session, sequence_id, recipient_id)
    handle = recipient_calls.handle_for(client, session.workspace, sequence_id, recipient_id)
    back = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    try:
        if action is Action.DELETE:
            await recipient_calls.remove(client, namespace, store, handle, recipient_id)
            return redirect(request, session, f"/sequences/{sequence_id}", "Recipient deleted.")
        await recipient_calls.refuse_while_sequence_paused(store, caller(session), row, action)
        payload = _payload(action, form, session.actor)
        view = await recipient_calls.act(handle, action, payload, store, recipient_id)
    except Problem as problem:
        return redirect(request, session, back, f"{ACTION_LABELS[action]}: {problem.detail}")
    except ValueError as exc:
        return redirect(request, session, back, f"{ACTION_LABELS[action]}: {exc}")
    return redirect(
        request, session, back, f"{ACTION_LABELS[action]} done: now {LABELS[view.status]}."
    )


def _payload(action: Action, form: Any, actor: str) -> ActionRequest:
    if action is Action.PAUSE:
        return PauseRequest(
            actor=actor,
            reason=str(form.get("reason") or "") or None,
            note=str(form.get("note") or "") or None,
            until=_utc(str(form.get("until") or "") or None),
        )
    if action is Action.SKIP:
        step = form.get("step")
        return SkipRequest(actor=actor, step=int(str(step)) if step else None)
    if action is Action.SEND_MANUAL_EMAIL:
        return SendManualEmailRequest(actor=actor, at=_utc(str(form.get("at") or "") or None))
    return ActionRequest(actor=actor)


# ---- recipients in bulk ---------------------------------------------------------------------


@router.post("/sequences/{sequence_id}/recipients/bulk", response_class=HTMLResponse)
async def bulk_recipients(request: Request, sequence_id: str) -> Response:
    session, form = await posted(request)
    settings, client, store, renderer, _ = _state(request)
    await _sequence(store, session, sequence_id)
    back = f"/sequences/{sequence_id}"
    ids = [str(i) for i in form.getlist("ids")]
    if not ids:
        return redirect(request, session, back, "Select the recipients first.")
    action = str(form.get("action") or "")
    token = str(form.get("confirmation_token") or "") or None
    try:
        body = BulkRecipientAction(action=action, recipient_ids=ids, confirmation_token=token)  # type: ignore[arg-type]
        result = await bulk_action(
            sequence_id, body, caller(session), client, store, settings, renderer
        )
    except ValidationError as exc:
        return redirect(request, session, back, f"Not done: {exc.errors()[0]['msg']}")
    except Problem as problem:
        return redirect(request, session, back, f"Not done: {problem.detail}")
    if result.confirmation_required:
        verb = "Stop" if action == "stop" else "Delete"
        n = len(result.applied)
        return page(
            request,
            session,
            "confirm.html",
            title=f"{verb} {n} recipient{'s' * (n != 1)}",
            what=(
                f"{verb} the sequence for {n} selected recipient{'s' * (n != 1)}?"
                if verb == "Stop"
                else f"Delete {n} selected recipient{'s' * (n != 1)}, with their history?"
            )
            + (
                f" {len(result.not_eligible)} selected are not eligible and stay as they are."
                if result.not_eligible
                else ""
            ),
            warning="This cannot be undone.",
            confirm=f"{verb} {n}",
            action=f"/sequences/{sequence_id}/recipients/bulk",
            back=back,
            hidden=[("action", action), ("confirmation_token", result.confirmation_token)]
            + [("ids", i) for i in ids],
        )
    applied, skipped, failed = len(result.applied), len(result.not_eligible), len(result.failed)
    summary = f"{applied} applied, {skipped} not eligible, {failed} failed."
    return redirect(request, session, back, summary)


# ---- senders and suppressions ---------------------------------------------------------------


@router.get("/senders", response_class=HTMLResponse)
async def senders_page(request: Request) -> Response:
    session = current(request)
    _, _, store, _, _ = _state(request)
    return page(
        request, session, "senders.html", senders=await Accounts(store).senders(session.workspace)
    )


@router.post("/senders", response_class=HTMLResponse)
async def add_sender(request: Request) -> Response:
    session, form = await posted(request)
    _, _, store, _, _ = _state(request)
    try:
        body = SenderCreate.model_validate(
            {
                "name": str(form.get("name") or ""),
                "email": str(form.get("email") or ""),
                "daily_cap": int(str(form["daily_cap"])) if form.get("daily_cap") else None,
            }
        )
    except (ValidationError, ValueError) as exc:
        return redirect(request, session, "/senders", f"Not added: {_first_error(exc)}")
    await sender_routes.create(body, caller(session), store)
    return redirect(request, session, "/senders", f"{body.name} added.")


@router.post("/senders/{sender_id}", response_class=HTMLResponse)
async def change_sender(request: Request, sender_id: str) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = _state(request)
    values: dict[str, Any] = {}
    if form.get("status"):
        values["status"] = str(form["status"])
    if form.get("daily_cap"):
        values["daily_cap"] = str(form["daily_cap"])
    try:
        body = SenderUpdate.model_validate(values)
        changed = await sender_routes.change(sender_id, body, caller(session), client, store)
    except (ValidationError, ValueError) as exc:
        return redirect(request, session, "/senders", f"Not changed: {_first_error(exc)}")
    except Problem as problem:
        if problem.status == 404:
            raise NotHere(problem.detail) from None
        return redirect(request, session, "/senders", f"Not changed: {problem.detail}")
    told = f"{changed.name} is {changed.status}."
    if changed.recipients_retried:
        told += f" {changed.recipients_retried} recipients that erred on it are retried."
    return redirect(request, session, "/senders", told)


@router.get("/suppressions", response_class=HTMLResponse)
async def suppressions_page(request: Request, cursor: str | None = None) -> Response:
    session = current(request)
    _, _, store, _, _ = _state(request)
    after = int(cursor) if cursor and cursor.isdigit() and len(cursor) < 19 else None
    rows = await Accounts(store).suppressions(session.workspace, PAGE + 1, after)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return page(
        request,
        session,
        "suppressions.html",
        rows=[{"email": r.email, "reason": r.reason, "since": _when(r.created_at)} for r in rows],
        next_cursor=str(rows[-1].id) if more else None,
    )


@router.post("/suppressions", response_class=HTMLResponse)
async def suppress(request: Request) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = _state(request)
    try:
        body = SuppressionCreate.model_validate(
            {
                "email": str(form.get("email") or ""),
                "reason": str(form.get("reason") or "") or "added by hand",
            }
        )
    except ValidationError as exc:
        return redirect(request, session, "/suppressions", f"Not added: {_first_error(exc)}")
    public, told = await suppress_address(
        client, store, session.workspace, body.email, body.reason, f"suppression:{body.email}"
    )
    return redirect(
        request,
        session,
        "/suppressions",
        f"{public.email} suppressed; {len(told)} recipients unsubscribed.",
    )


@router.post("/suppressions/remove", response_class=HTMLResponse)
async def unsuppress(request: Request) -> Response:
    session, form = await posted(request)
    _, _, store, _, _ = _state(request)
    email = str(form.get("email") or "")
    removed = await Accounts(store).unsuppress(session.workspace, email)
    told = f"{email} removed." if removed else f"{email} was not on the list."
    return redirect(request, session, "/suppressions", told)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    return str(exc)


# ---- a sequence's errors --------------------------------------------------------------------


@router.get("/sequences/{sequence_id}/errors", response_class=HTMLResponse)
async def errors_page(request: Request, sequence_id: str, cause: str | None = None) -> Response:
    session = current(request)
    _, _, store, _, _ = _state(request)
    row = await _sequence(store, session, sequence_id)
    definition = definition_of(row)
    wanted = cause if cause in {c.value for c in FailureCause} else None
    recipients = Recipients(store)
    found = await recipients.page(
        session.workspace,
        sequence_id,
        status=RecipientStatus.ERROR,
        limit=PAGE,
        cursor=None,
        error_cause=wanted,
    )
    contacts = await recipients.contacts_of(found.items)
    total = len(definition.steps)
    rows = []
    for r in found.items:
        name = _row_name(r, contacts)
        rows.append(
            {
                "id": r.id,
                "name": name,
                "email": r.email,
                "step": f"{min(r.current_step + 1, total)}/{total}",
                "cause": r.error_cause,
                "fix": fix_for(r.error_cause or ""),
            }
        )
    sender_id = definition.settings.sender_id
    sender = await Accounts(store).sender(session.workspace, sender_id) if sender_id else None
    return page(
        request,
        session,
        "errors.html",
        sequence=row,
        rows=rows,
        cause=wanted,
        causes=[c.value for c in FailureCause],
        sender=sender,
    )


# ---- contacts -------------------------------------------------------------------------------


@router.get("/contacts", response_class=HTMLResponse)
async def contacts_page(request: Request, cursor: str | None = None) -> Response:
    session = current(request)
    _, _, store, _, _ = _state(request)
    try:
        found = await Contacts(store).page(session.workspace, PAGE, cursor)
    except ValueError:
        found = await Contacts(store).page(session.workspace, PAGE, None)
    sequences, _ = await Sequences(store).page(session.workspace, None, 200, None)
    return page(
        request,
        session,
        "contacts.html",
        contacts=[
            {
                "id": c.id,
                "email": c.email,
                "name": " ".join(filter(None, [c.first_name, c.last_name])) or c.email or c.id,
            }
            for c in found.items
        ],
        sequences=sequences,
        next_cursor=found.next_cursor,
    )


@router.post("/contacts", response_class=HTMLResponse)
async def pause_contacts(request: Request) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = _state(request)
    action = Action.PAUSE if form.get("action") == "pause" else Action.RESUME
    try:
        body = ContactsInSequence.model_validate(
            {
                "contact_ids": [str(c) for c in form.getlist("contact_ids")],
                "sequence_id": str(form.get("sequence_id") or ""),
            }
        )
        answer = await contact_routes.apply(action, body, caller(session), client, store)
    except ValidationError as exc:
        return redirect(request, session, "/contacts", f"Nothing changed: {_first_error(exc)}")
    except Problem as problem:
        return redirect(request, session, "/contacts", f"Nothing changed: {problem.detail}")
    verb = "Paused" if action is Action.PAUSE else "Unpaused"
    told = f"{verb} {len(answer.changed)}."
    if answer.not_changed:
        told += (
            f" Not touched: {len(answer.not_changed)} ("
            + "; ".join(o.reason or "" for o in answer.not_changed[:5])
            + ")"
        )
    return redirect(request, session, "/contacts", told)
