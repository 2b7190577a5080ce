"""The suppression list: list, add, remove."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.routes.suppressions import suppress_address
from api.schemas import (
    SuppressionCreate,
)
from console.web import (
    PAGE,
    current,
    first_error,
    page,
    posted,
    redirect,
    services,
    when,
)
from store.accounts import Accounts

router = APIRouter(include_in_schema=False)


@router.get("/suppressions", response_class=HTMLResponse)
async def suppressions_page(request: Request, cursor: str | None = None) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    after = int(cursor) if cursor and cursor.isdigit() and len(cursor) < 19 else None
    rows = await Accounts(store).suppressions(session.workspace, PAGE + 1, after)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return page(
        request,
        session,
        "suppressions.html",
        rows=[{"email": r.email, "reason": r.reason, "since": when(r.created_at)} for r in rows],
        next_cursor=str(rows[-1].id) if more else None,
    )


@router.post("/suppressions", response_class=HTMLResponse)
async def suppress(request: Request) -> Response:
    session, form = await posted(request)
    _, client, store, _, _ = services(request)
    try:
        body = SuppressionCreate.model_validate(
            {
                "email": str(form.get("email") or ""),
                "reason": str(form.get("reason") or "") or "added by hand",
            }
        )
    except ValidationError as exc:
        return redirect(request, session, "/suppressions", f"Not added: {first_error(exc)}")
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
    _, _, store, _, _ = services(request)
    email = str(form.get("email") or "")
    removed = await Accounts(store).unsuppress(session.workspace, email)
    told = f"{email} removed." if removed else f"{email} was not on the list."
    return redirect(request, session, "/suppressions", told)
