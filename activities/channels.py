"""Channels hand a rendered message to the outside world: SMTP, an HTTP provider, or files.

A channel raises `ChannelError(cause, detail)` for a failure a person must fix (the recipient
goes to `error`); any other exception is transient and Temporal retries the dispatch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol, TypeVar

import aiosmtplib
import httpx

from activities.email_format import build_email
from domain.failures import FailureCause

T = TypeVar("T")
log = logging.getLogger("seqflow.channels")


class ChannelError(Exception):
    """A failure a person must fix: the step goes to Error with this cause and its fix."""

    def __init__(self, cause: FailureCause, detail: str) -> None:
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
    # Email only: the sequence's sender mailbox ("Name <address>"); the channel's default if None.
    from_address: str | None = None


class Channel(Protocol):
    """The contract that makes at-most-once possible.

    `send` hands the message over and returns the provider's id. If it raises CancelledError
    (a pause reached the activity), nothing was handed over: a channel shields its commit
    point (SMTP DATA, the provider's POST) and, once that began, finishes it and returns.
    A failure after the commit point began is `ChannelError(FailureCause.DELIVERY_UNCERTAIN, …)`;
    any other exception means nothing was accepted.
    """

    async def send(self, message: OutboundMessage) -> str: ...


async def finish_once_started(commit: Awaitable[T]) -> T:
    """Run a commit step to its end even if we are cancelled meanwhile, however many times:
    once a message is being handed over, stopping half-way would leave us not knowing whether
    it went out. A pause, a stopping worker's deadline (`SEQFLOW_SHUTDOWN_GRACE`) and the
    activity's own timeout all land before the commit began or after it ended; the commit is
    bounded by its own timeout (the SMTP or HTTP one). A cancellation that arrived meanwhile
    is absorbed: the caller learns how the commit ended, which is the truth to record."""
    task = asyncio.ensure_future(commit)
    absorbed = 0
    try:
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.done():
                    return task.result()  # it ended as we were cancelled: its own outcome
                if not absorbed:
                    log.info("cancelled during a hand-over: finishing it first")
                absorbed += 1
    finally:
        current = asyncio.current_task()
        if current is not None:
            for _ in range(absorbed):
                current.uncancel()


class SmtpEmailChannel:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 30) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def build(self, message: OutboundMessage) -> EmailMessage:
        """multipart/alternative (text and HTML), with List-Unsubscribe when a URL is given."""
        return build_email(
            sender=message.from_address or self.sender,
            to=message.to,
            subject=message.subject,
            body=message.body,
            message_id=message.message_id,
            extra_headers=message.headers,
            unsubscribe_url=message.unsubscribe_url,
        )

    async def send(self, message: OutboundMessage) -> str:
        email = self.build(message)
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout)
        # Connect, MAIL and RCPT may be cancelled freely: nothing is handed over yet. DATA is
        # the commit point: once begun, a cancellation waits for the server's answer (each
        # exchange bounded by `timeout`), so the ledger learns sent or refused, never "cut".
        await client.connect()
        try:
            try:
                await client.mail(parseaddr(message.from_address or self.sender)[1])
                await client.rcpt(message.to)
            except aiosmtplib.SMTPResponseException as exc:
                if 500 <= exc.code < 600:
                    raise ChannelError(
                        FailureCause.PROVIDER_REJECTED, f"{exc.code} {exc.message}"
                    ) from exc
                raise  # 4xx: transient, Temporal retries
            try:
                await finish_once_started(client.data(email.as_bytes()))
            except aiosmtplib.SMTPResponseException as exc:
                # The server answered the DATA: refused, so nothing was delivered.
                if 500 <= exc.code < 600:
                    raise ChannelError(
                        FailureCause.PROVIDER_REJECTED, f"{exc.code} {exc.message}"
                    ) from exc
                raise
            except (OSError, aiosmtplib.SMTPException) as exc:
                raise ChannelError(
                    FailureCause.DELIVERY_UNCERTAIN, f"lost during DATA: {exc}"
                ) from exc
        finally:
            client.close()
        return message.message_id


_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


def check_phone(phone: str | None) -> str:
    if not phone:
        raise ChannelError(FailureCause.MISSING_PHONE, "the contact has no phone number")
    normalised = re.sub(r"[\s().-]", "", phone)
    if not _PHONE.match(normalised):
        raise ChannelError(
            FailureCause.INVALID_PHONE, f"{phone!r} is not an E.164 number like +33612345678"
        )
    return normalised


class HttpProviderChannel:
    """SMS / LinkedIn through an HTTP provider: POST {base}/messages with a bearer token."""

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client or httpx.AsyncClient(timeout=30)

    async def send(self, message: OutboundMessage) -> str:
        try:
            response = await finish_once_started(self._post(message))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise exc  # never reached the provider: transient
        except httpx.HTTPError as exc:
            raise ChannelError(
                FailureCause.DELIVERY_UNCERTAIN, f"no answer from the provider: {exc}"
            ) from exc
        if response.status_code in (400, 403, 404, 422):
            raise ChannelError(
                FailureCause.PROVIDER_REJECTED, f"{response.status_code}: {response.text}"
            )
        response.raise_for_status()  # 5xx / 429: transient
        return str(response.json().get("id", message.message_id))

    async def _post(self, message: OutboundMessage) -> httpx.Response:
        return await self.client.post(
            f"{self.base_url}/messages",
            json=asdict(message),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": message.message_id,
            },
        )


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
