"""What every console page shares: the session (signed cookie, CSRF), rendering a page or a
redirect with a one-time message, and finding the caller's own sequence and recipient (another
workspace's ids are "not here", never data)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.convert import situation_of
from api.deps import Caller
from console import session as sessions
from console.labels import ACTION_LABELS
from domain import actions
from domain.statuses import Action, RecipientStatus
from store.recipients import Recipients
from store.sequences import Sequences
from store.tables import RecipientRow, SequenceRow

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE = 50


class SignInFirst(Exception):
    pass


class NotHere(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def services(request: Request) -> tuple[Any, Any, Any, Any, Any]:
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
        set_cookie(request, response, session.__class__(**{**session.__dict__, "flash": None}))
    return response


def redirect(
    request: Request, session: sessions.Session, to: str, flash: str | None = None
) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    set_cookie(request, response, sessions.Session(**{**session.__dict__, "flash": flash}))
    return response


def set_cookie(request: Request, response: Response, session: sessions.Session) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        sessions.COOKIE,
        sessions.encode(settings, session),
        max_age=sessions.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


async def sequence_row(store: Any, session: sessions.Session, sequence_id: str) -> SequenceRow:
    row = await Sequences(store).get(session.workspace, sequence_id)
    if row is None:
        raise NotHere(f"There is no sequence {sequence_id} in this workspace.")
    return row


async def recipient_row(
    store: Any, session: sessions.Session, sequence_id: str, recipient_id: str
) -> RecipientRow:
    row = await Recipients(store).get(session.workspace, sequence_id, recipient_id)
    if row is None:
        raise NotHere(f"There is no recipient {recipient_id} in this sequence.")
    return row


def when(moment: datetime | None, timezone: str = "UTC") -> str | None:
    """A moment as a person reads it: in the sequence's sending-window time zone, if any."""
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime(f"%Y-%m-%d %H:%M {timezone}")


def zone_of(definition: Any) -> str:
    schedule = definition.settings.schedule
    return schedule.timezone if schedule else "UTC"


def utc_field(text: str | None) -> datetime | None:
    """A datetime-local field, read as UTC (the form says so)."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def row_name(row: RecipientRow, contacts: dict[str, Any]) -> str:
    """What a person calls a recipient in a table: the contact's name, else its address."""
    contact = contacts.get(row.contact_id)
    name = " ".join(filter(None, [contact.first_name, contact.last_name])) if contact else ""
    return name or row.email or row.id


def pause_text(row: RecipientRow, timezone: str) -> str | None:
    """The recipients table's Pause column: who holds it, the reason, until when."""
    if row.status != RecipientStatus.PAUSED:
        return None
    parts = ["by the sequence" if row.pause_source == "sequence" else "paused"]
    if row.pause_reason:
        parts.append(row.pause_reason.replace("_", " "))
    if row.pause_until:
        parts.append(f"until {when(row.pause_until, timezone)}")
    return " · ".join(parts)


def row_actions(
    row: RecipientRow, definition: Any, sequence_paused: bool
) -> tuple[list[Action], list[Action]]:
    """What the row may do (domain.actions), and what it could do but for the sequence pause."""
    now = actions.allowed_actions(situation_of(row, definition, sequence_paused))
    if not sequence_paused:
        return now, []
    otherwise = actions.allowed_actions(situation_of(row, definition, False))
    return now, [a for a in otherwise if a not in now]


def action_link(sequence_id: str, recipient_id: str, action: Action) -> dict[str, str]:
    base = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    if action in (Action.VIEW_CONTENT, Action.EDIT_CONTENT):
        return {"label": ACTION_LABELS[action], "href": f"{base}#content", "confirm": ""}
    return {"label": ACTION_LABELS[action], "href": f"{base}/{action.url_segment}", "confirm": "1"}


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    return str(exc)
