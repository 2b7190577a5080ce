"""One-click unsubscribe (RFC 8058): the link every email carries. No API key — the signed
token in the link is the authority, and it names one address in one workspace."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import ClientDep, SettingsDep, StoreDep
from api.problems import Problem
from api.routes.suppressions import suppress_address
from domain.unsubscribe import read_token

router = APIRouter(prefix="/v1/unsubscribe", tags=["unsubscribe"])


def _address(token: str, secret: bytes) -> tuple[str, str]:
    found = read_token(secret, token)
    if found is None:
        raise Problem(404, "Not found", "this unsubscribe link is not valid")
    return found


@router.post("/{token}")
async def unsubscribe(
    token: str, client: ClientDep, store: StoreDep, settings: SettingsDep
) -> dict[str, object]:
    """Mail clients POST `List-Unsubscribe=One-Click` here; a second click changes nothing."""
    workspace, email = _address(token, settings.token_secret_bytes())
    _, told = await suppress_address(
        client, store, workspace, email, "unsubscribed (one-click link)", f"unsubscribe:{email}"
    )
    return {"email": email, "status": "unsubscribed", "recipients_unsubscribed": len(told)}


@router.get("/{token}", response_class=HTMLResponse)
async def confirm_page(token: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    """Link scanners follow GETs, so a GET only asks; the button POSTs."""
    _, email = _address(token, settings.token_secret_bytes())
    return HTMLResponse(
        f"<!doctype html><title>Unsubscribe</title><p>Stop all emails to "
        f"<b>{escape(email)}</b>?</p><form method=post><button>Unsubscribe</button></form>"
    )
