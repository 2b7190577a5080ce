"""One-click unsubscribe (RFC 8058): the link every email carries. No API key — the signed
token in the link is the authority, and it names one address in one workspace."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import ClientDep, SettingsDep, StoreDep
from api.problems import Problem
from api.routes.suppressions import suppress_address
from domain.unsubscribe import UnsubscribeLink, read_link
from settings import Settings

router = APIRouter(prefix="/v1/unsubscribe", tags=["unsubscribe"])


def _link(token: str, settings: Settings) -> UnsubscribeLink:
    found = read_link(settings.token_secrets_accepted(), token)
    if found is None:
        raise Problem(404, "Not found", "this unsubscribe link is not valid")
    return found


@router.post("/{token}")
async def unsubscribe(
    token: str, client: ClientDep, store: StoreDep, settings: SettingsDep
) -> dict[str, object]:
    """Mail clients POST `List-Unsubscribe=One-Click` here; a second click changes nothing."""
    link = _link(token, settings)
    via = f" from {link.recipient_id}" if link.recipient_id else ""
    _, told = await suppress_address(
        client,
        store,
        link.workspace,
        link.email,
        f"unsubscribed (one-click link{via})",
        f"unsubscribe:{link.email}",
    )
    return {"email": link.email, "status": "unsubscribed", "recipients_unsubscribed": len(told)}


@router.get("/{token}", response_class=HTMLResponse)
async def confirm_page(token: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    """Link scanners follow GETs, so a GET only asks; the button POSTs."""
    email = _link(token, settings).email
    return HTMLResponse(
        f"<!doctype html><title>Unsubscribe</title><p>Stop all emails to "
        f"<b>{escape(email)}</b>?</p><form method=post><button>Unsubscribe</button></form>"
    )
