"""Senders: connect, disconnect, daily cap, and vacations (pause the sender: every recipient
sending from it is held until it is back)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.problems import Problem
from api.routes import senders as sender_routes
from api.schemas import (
    SenderCreate,
    SenderUpdate,
    VacationBody,
)
from console.web import (
    NotHere,
    caller,
    current,
    first_error,
    page,
    posted,
    redirect,
    services,
    utc_field,
)
from store.accounts import Accounts

router = APIRouter(include_in_schema=False)


@router.get("/senders", response_class=HTMLResponse)
async def senders_page(request: Request) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    rows = await Accounts(store).senders(session.workspace)
    # The API's view of each: whether it is away now, and the vacations planned.
    shown = [sender_routes.public(row) for row in rows]
    return page(request, session, "senders.html", senders=shown)


@router.post("/senders", response_class=HTMLResponse)
async def add_sender(request: Request) -> Response:
    session, form = await posted(request)
    _, _, store, _, _ = services(request)
    try:
        body = SenderCreate.model_validate(
            {
                "name": str(form.get("name") or ""),
                "email": str(form.get("email") or ""),
                "daily_cap": int(str(form["daily_cap"])) if form.get("daily_cap") else None,
            }
        )
    except (ValidationError, ValueError) as exc:
        return redirect(request, session, "/senders", f"Not added: {first_error(exc)}")
    await sender_routes.create(body, caller(session), store)
    return redirect(request, session, "/senders", f"{body.name} added.")


@router.post("/senders/{sender_id}", response_class=HTMLResponse)
async def change_sender(request: Request, sender_id: str) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = services(request)
    values: dict[str, Any] = {}
    if form.get("status"):
        values["status"] = str(form["status"])
    if form.get("daily_cap"):
        values["daily_cap"] = str(form["daily_cap"])
    try:
        body = SenderUpdate.model_validate(values)
        changed = await sender_routes.change(sender_id, body, caller(session), client, store)
    except (ValidationError, ValueError) as exc:
        return redirect(request, session, "/senders", f"Not changed: {first_error(exc)}")
    except Problem as problem:
        if problem.status == 404:
            raise NotHere(problem.detail) from None
        return redirect(request, session, "/senders", f"Not changed: {problem.detail}")
    told = f"{changed.name} is {changed.status}."
    if changed.recipients_retried:
        told += f" {changed.recipients_retried} recipients that erred on it are retried."
    return redirect(request, session, "/senders", told)


@router.post("/senders/{sender_id}/vacation", response_class=HTMLResponse)
async def plan_vacation(request: Request, sender_id: str) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = services(request)
    try:
        body = VacationBody.model_validate(
            {
                "from": utc_field(str(form.get("from") or "") or None),
                "until": utc_field(str(form.get("until") or "") or None),
                "reason": str(form.get("reason") or "") or None,
            }
        )
        shown = await sender_routes.pause(sender_id, body, caller(session), client, store)
    except (ValidationError, ValueError) as exc:
        return redirect(request, session, "/senders", f"Not planned: {first_error(exc)}")
    except Problem as problem:
        if problem.status == 404:
            raise NotHere(problem.detail) from None
        return redirect(request, session, "/senders", f"Not planned: {problem.detail}")
    if shown.on_vacation:
        told = f"{shown.name} is on vacation: its recipients are held until it is back."
    else:
        told = f"Vacation planned for {shown.name}: its recipients are held from its start."
    return redirect(request, session, "/senders", told)


@router.post("/senders/{sender_id}/back", response_class=HTMLResponse)
async def end_vacation(request: Request, sender_id: str) -> Response:
    session, _ = await posted(request)
    _, client, store, _, _ = services(request)
    try:
        shown = await sender_routes.resume(sender_id, caller(session), client, store)
    except Problem as problem:
        if problem.status == 404:
            raise NotHere(problem.detail) from None
        return redirect(request, session, "/senders", f"Not resumed: {problem.detail}")
    return redirect(request, session, "/senders", f"{shown.name} is back: what it held goes on.")
