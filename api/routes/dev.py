"""Development only (`make run`): what the stack "sent", read back from the local outbox folder.

The SMTP sink of devstack keeps each email as an .eml file and the dev SMS/LinkedIn channel
(activities.channels.OutboxChannel) writes `{channel}-{id}.json` files into the same folder.
The app includes this router only when settings.dev_mode is on. It still requires an API key:
it shows message contents. The folder is shared, so it lists every workspace's messages.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import CallerDep
from api.schemas import OutboxEmail, OutboxMessage

router = APIRouter(prefix="/dev", tags=["dev"])


def _email(path: Path) -> OutboxEmail:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default builds
    text = None
    try:
        part = message.get_body(preferencelist=("plain",))
        if part is not None:
            # SMTP delivers CRLF line ends; JSON readers expect plain newlines.
            text = part.get_content().replace("\r\n", "\n")
    except (LookupError, ValueError):  # an unknown charset or a broken part: headers still help
        text = None

    def header(name: str) -> str | None:
        value = message.get(name)
        return None if value is None else str(value)

    return OutboxEmail(
        file=path.name,
        from_=header("From"),
        to=header("To"),
        subject=header("Subject"),
        message_id=header("Message-ID"),
        date=header("Date"),
        text=text,
    )


def _message(path: Path) -> OutboxMessage | None:
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError):  # written at this very moment (not atomically): next call
        return None
    if not isinstance(data, dict):
        return None
    channel = data.get("channel") or path.name.split("-", 1)[0]
    return OutboxMessage(file=path.name, channel=channel, to=data.get("to"), body=data.get("body"))


def _arrival(path: Path) -> tuple[int, str]:
    # .eml names sort by arrival, JSON names do not: the write time orders both kinds.
    try:
        return path.stat().st_mtime_ns, path.name
    except FileNotFoundError:
        return 0, path.name


@router.get("/outbox", response_model=list[OutboxEmail | OutboxMessage])
def list_outbox(
    request: Request,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="the newest N")] = 200,
) -> list[OutboxEmail | OutboxMessage]:
    """Messages received by the local SMTP sink and the dev SMS/LinkedIn outbox, newest last."""
    # A plain `def`: FastAPI runs it in a thread, so file reads do not block the event loop.
    outbox: Path = request.app.state.settings.outbox_dir
    if not outbox.is_dir():
        return []
    # Hidden files are the SMTP sink's partial writes.
    paths = [p for p in outbox.iterdir() if p.suffix in (".eml", ".json") and p.name[0] != "."]
    items: list[OutboxEmail | OutboxMessage] = []
    for path in sorted(paths, key=_arrival)[-limit:]:
        try:
            item = _email(path) if path.suffix == ".eml" else _message(path)
        except FileNotFoundError:  # removed meanwhile (someone cleaning .data/)
            continue
        if item is not None:
            items.append(item)
    return items
