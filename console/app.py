"""Mounting the console on the API's app: its pages, its static files, its two answers to a
request that cannot go on (sign in first; not here)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console.pages import router
from console.session import COOKIE, decode
from console.web import NotHere, SignInFirst, page

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(SignInFirst)
    async def _sign_in(request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(NotHere)
    async def _not_here(request: Request, exc: NotHere) -> HTMLResponse:
        session = decode(request.app.state.settings, request.cookies.get(COOKIE))
        return page(request, session, "not_found.html", http_status=404, detail=exc.detail)
