"""Contacts: pause or unpause selected contacts in one sequence."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.problems import Problem
from api.routes import contacts as contact_routes
from api.schemas import (
    ContactsInSequence,
)
from console.web import (
    PAGE,
    caller,
    current,
    first_error,
    page,
    posted,
    redirect,
    services,
)
from domain.statuses import Action
from store.accounts import Contacts
from store.sequences import Sequences

router = APIRouter(include_in_schema=False)


@router.get("/contacts", response_class=HTMLResponse)
async def contacts_page(request: Request, cursor: str | None = None) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
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
    _, client, store, _, _ = services(request)
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
        return redirect(request, session, "/contacts", f"Nothing changed: {first_error(exc)}")
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
