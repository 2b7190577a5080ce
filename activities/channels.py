"""Channels hand a rendered message to the outside world: SMTP, an HTTP provider, or files.

A channel raises `ChannelError(cause, detail)` for a failure a person must fix (the recipient
goes to `error`); any other exception is transient and Temporal retries the dispatch.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx

from activities.email_format import build_email


class ChannelError(Exception):
    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


@dataclass(frozen=True)
class OutboundMessage:
    channel: str  # email | sms | linkedin
    to: str
    body: str
    subject: str | None
    message_id: str  # stable per recipient × step: redelivery is recognisable downstream
    headers: dict[str, str]
    # Email only: the one-click unsubscribe link (List-Unsubscribe / List-Unsubscribe-Post).
    unsubscribe_url: str | None = None


class Channel(Protocol):
    async def send(self, message: OutboundMessage) -> str:
        """Hand the message over; return the provider's message id."""
        ...


class SmtpEmailChannel:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 30) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def build(self, message: OutboundMessage) -> EmailMessage:
        """multipart/alternative (text and HTML), with List-Unsubscribe when a URL is given."""
        return build_email(
            sender=self.sender,
            to=message.to,
            subject=message.subject,
            body=message.body,
            message_id=message.message_id,
            extra_headers=message.headers,
            unsubscribe_url=message.unsubscribe_url,
        )

    async def send(self, message: OutboundMessage) -> str:
        try:
            await aiosmtplib.send(
                self.build(message), hostname=self.host, port=self.port, timeout=self.timeout
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise ChannelError("provider_rejected", f"the mail server refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise ChannelError("provider_rejected", f"{exc.code} {exc.message}") from exc
            raise  # 4xx: transient, Temporal retries
        return message.message_id


_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


def check_phone(phone: str | None) -> str:
    if not phone:
        raise ChannelError("missing_phone", "the contact has no phone number")
    normalised = re.sub(r"[\s().-]", "", phone)
    if not _PHONE.match(normalised):
        raise ChannelError("invalid_phone", f"{phone!r} is not an E.164 number like +33612345678")
    return normalised


class HttpProviderChannel:
    """SMS / LinkedIn through an HTTP provider: POST {base}/messages with a bearer token."""

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client or httpx.AsyncClient(timeout=30)

    async def send(self, message: OutboundMessage) -> str:
        response = await self.client.post(
            f"{self.base_url}/messages",
            json=asdict(message),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": message.message_id,
            },
        )
        if response.status_code in (400, 403, 404, 422):
            raise ChannelError("provider_rejected", f"{response.status_code}: {response.text}")
        response.raise_for_status()  # 5xx / 429: transient
        return str(response.json().get("id", message.message_id))


class OutboxChannel:
    """Development provider: each message becomes a JSON file a person can read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: OutboundMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", message.message_id.strip("<>"))
        path = self.directory / f"{message.channel}-{safe}.json"
        path.write_text(json.dumps(asdict(message), indent=2))
        return message.message_id
