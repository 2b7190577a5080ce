"""Signing in with an API key or a one-time link, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import session as sessions
from console.web import (
    page,
    posted,
    redirect,
)

router = APIRouter(include_in_schema=False)


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
