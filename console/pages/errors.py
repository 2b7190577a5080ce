"""A sequence's Errors tab: recipients in Error with cause and fix, by cause."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.web import (
    PAGE,
    current,
    page,
    row_name,
    sequence_row,
    services,
)
from domain.failures import FailureCause, fix_for
from domain.statuses import RecipientStatus
from store.accounts import Accounts
from store.recipients import Recipients
from store.sequences import definition_of

router = APIRouter(include_in_schema=False)


@router.get("/sequences/{sequence_id}/errors", response_class=HTMLResponse)
async def errors_page(request: Request, sequence_id: str, cause: str | None = None) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    row = await sequence_row(store, session, sequence_id)
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
        name = row_name(r, contacts)
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
