"""A local SMTP server that keeps every message as an .eml file, so email can be seen in dev.

It runs in the devstack process (aiosmtpd's Controller serves from its own thread), so nothing
else needs installing. `GET /dev/outbox` reads the same folder.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class OutboxHandler:
    """aiosmtpd handler: one file per message, named so that sorting by name is arrival order."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def _next_name(self) -> str:
        # UTC time first (orders across runs), then a counter (orders within one microsecond).
        with self._lock:
            number = next(self._counter)
        return f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{number:05d}.eml"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        # The envelope says who it was really delivered to (a Bcc is in no header).
        recipients = ", ".join(envelope.rcpt_tos)
        head = f"X-Envelope-From: <{envelope.mail_from}>\r\nX-Envelope-To: {recipients}\r\n"
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = self._next_name()
        partial = self.outbox / f".{name}.partial"
        # Written aside, then renamed: a reader of the outbox never sees half a message.
        partial.write_bytes(head.encode() + content)
        partial.replace(self.outbox / name)
        return "250 OK: kept in the outbox"


def start_smtp_sink(host: str, port: int, outbox: Path) -> Controller:
    """Serve on host:port until `.stop()`; raises OSError when the port is taken."""
    outbox.mkdir(parents=True, exist_ok=True)
    controller = Controller(
        OutboxHandler(outbox),
        hostname=host,
        port=port,
        # A dev sink accepts whatever the app sends, including non-ASCII addresses.
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller
