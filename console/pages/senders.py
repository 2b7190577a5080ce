"""Senders: connect, disconnect, daily cap."""

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
)
from store.accounts import Accounts

router = APIRouter(include_in_schema=False)


@router.get("/senders", response_class=HTMLResponse)
async def senders_page(request: Request) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    return page(
        request, session, "senders.html", senders=await Accounts(store).senders(session.workspace)
    )


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
