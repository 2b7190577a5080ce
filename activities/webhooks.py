"""Delivering outbound webhooks: sign (Standard Webhooks), post, log every attempt.

A failed attempt raises, and the endpoint's workflow retries it with exponential back-off
(its retry policy); the delivery keeps its webhook-id on every attempt, so a receiver can
deduplicate what a worker killed between the post and its log sends again.

The connection goes to the address the host resolved to, checked public at that moment
(outside dev mode), with the name kept for TLS and Host: a name that resolves inside the
operator's network is refused, and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.webhook_urls import LOOPBACK_NAMES, is_public, url_problem
from store.webhooks import PENDING, Attempt, Due, Webhooks
from workflows import contract
from workflows.models import (
    BatchRequest,
    BatchResult,
    DeliverRequest,
    GiveUpRequest,
    PendingRequest,
)

TIMEOUT = httpx.Timeout(10.0)
ANSWER_WITHIN = 10.0  # seconds for a whole attempt
READ_AT_MOST = 4096  # bytes of a receiver's answer we read (kept in the log, truncated)
BATCH = 100
FLUSH = 25  # deliveries logged per transaction
POOLS = 256  # host names with a connection pool kept open


class Refused(Exception):
    pass


def signature(secrets: list[str], message_id: str, at: datetime, body: str) -> str:
    """`v1,<sig>` per secret, space-separated: during a rotation both verify."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


class WebhookSender:
    def __init__(self, webhooks: Webhooks, *, dev_mode: bool, poll: timedelta) -> None:
        self.webhooks = webhooks
        self.dev_mode = dev_mode
        self.poll = poll.total_seconds()
        # One connection pool per host name: connections go to checked addresses, and a
        # connection (its TLS session) made for one name never serves another name that
        # shares its address.
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    async def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.pop(host, None) or httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False, limits=httpx.Limits(max_connections=4)
        )
        self._clients[host] = client  # the newest last
        while len(self._clients) > POOLS:
            _, oldest = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    @activity.defn(name=contract.WEBHOOK_PENDING)
    async def webhook_pending(self, request: PendingRequest) -> list[int]:
        """The endpoint's pending deliveries, oldest first; waits for one up to `wait`, or
        until this worker begins to stop (it answers what it found: the next wait is another
        worker's, and a stopping worker does not wait out its grace for an idle poll)."""
        deadline = time.monotonic() + request.wait.total_seconds()
        while True:
            endpoint = await self.webhooks.endpoint(request.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                raise ApplicationError(
                    "the endpoint was deleted or disabled",
                    type=contract.ENDPOINT_GONE,
                    non_retryable=True,
                )
            found = await self.webhooks.pending(request.endpoint_id, BATCH)
            if found or time.monotonic() >= deadline or activity.is_worker_shutdown():
                return found
            activity.heartbeat()
            try:
                await asyncio.wait_for(activity.wait_for_worker_shutdown(), self.poll)
            except TimeoutError:
                pass

    @activity.defn(name=contract.WEBHOOK_DELIVER_BATCH)
    async def webhook_deliver_batch(self, request: BatchRequest) -> BatchResult:
        """The fast path: deliver these in order until one fails (that one is then retried
        on its own, with the retry policy). One activity, one read and a log write per
        FLUSH deliveries, so a burst of events costs the workflow a few tasks and the store
        a few transactions. A worker that dies before logging sends them again, same ids."""
        dues = await self._dues(request.delivery_ids)
        log: list[Attempt] = []
        try:
            for done, due in enumerate(dues):
                activity.heartbeat(done)
                if due.state != PENDING:
                    continue  # delivered by an attempt whose worker died before saying so
                attempt = await self._send(due, wait=request.first_retry)
                log.append(attempt)
                if attempt.error is not None:
                    return BatchResult(delivered=done, failed=due.delivery_id)
                if len(log) >= FLUSH:
                    await self.webhooks.attempted(log)
                    log = []
                    # Disabled, deleted or moved meanwhile: stop sending to what it was.
                    latest = await self.webhooks.endpoint(request.endpoint_id)
                    if latest is None or not latest.enabled or latest.url != due.url:
                        return BatchResult(delivered=done + 1)
            return BatchResult(delivered=len(dues))
        finally:
            await self.webhooks.attempted(log)

    @activity.defn(name=contract.WEBHOOK_DELIVER)
    async def webhook_deliver(self, request: DeliverRequest) -> None:
        """One delivery, retried by the workflow's retry policy until it is taken."""
        attempt_number = activity.info().attempt + request.tried_before
        wait = min(request.first_retry * 2 ** (attempt_number - 1), request.max_retry)
        dues = await self._dues([request.delivery_id])
        if not dues or dues[0].state != PENDING:
            return  # delivered by an attempt whose worker died before saying so
        due = dues[0]
        attempt = await self._send(due, wait=wait)
        await self.webhooks.attempted([attempt])
        if attempt.error is not None:
            raise ApplicationError(f"delivery {request.delivery_id}: {attempt.error}")

    @activity.defn(name=contract.WEBHOOK_GIVE_UP)
    async def webhook_give_up(self, request: GiveUpRequest) -> None:
        await self.webhooks.give_up(request.endpoint_id, request.delivery_id, request.reason)

    async def _dues(self, delivery_ids: list[int]) -> list[Due]:
        dues = await self.webhooks.due(delivery_ids)
        if any(not due.enabled for due in dues) or (delivery_ids and not dues):
            raise ApplicationError(
                "the endpoint was deleted or disabled",
                type=contract.ENDPOINT_GONE,
                non_retryable=True,
            )
        return dues

    async def _send(self, due: Due, *, wait: timedelta) -> Attempt:
        """One attempt (not yet logged); `wait`: when the next would be, should it fail."""
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "seqflow-webhooks/1",
            "webhook-id": due.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature(due.secrets, due.message_id, now, due.body),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(ANSWER_WITHIN):  # the whole attempt, DNS included
                status, answer = await self._post(due.url, due.body, headers)
            if not 200 <= status < 300:
                error = f"answered {status}" + (f": {answer}" if answer else "")
                if 300 <= status < 400:
                    error = f"answered {status}: redirects are not followed"
        except TimeoutError:
            error = f"no answer within {ANSWER_WITHIN:.0f} s"
        except Exception as exc:  # any failure is this attempt's, logged and retried
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Attempt(
            delivery_id=due.delivery_id,
            at=now,
            status_code=status,
            duration_ms=int((time.monotonic() - started) * 1000),
            error=error,
            next_attempt_at=None if error is None else datetime.now(UTC) + wait,
        )

    # ---- the wire ----------------------------------------------------------------------------

    async def _post(self, url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
        problem = url_problem(url, dev_mode=self.dev_mode)
        if problem:
            raise Refused(problem)
        parts = urlsplit(url)
        host = parts.hostname or ""
        target, extensions = url, {}
        if not (self.dev_mode and host in LOOPBACK_NAMES):
            address = await self._public_address(host, parts.port or 443)
            netloc = f"[{address}]" if ":" in address else address
            if parts.port:
                netloc += f":{parts.port}"
            target = urlunsplit(parts._replace(netloc=netloc))
            headers = {**headers, "host": parts.netloc}
            extensions = {"sni_hostname": host}
        http = await self._client(host)
        request = http.build_request(
            "POST", target, content=body.encode(), headers=headers, extensions=extensions
        )
        response = await http.send(request, stream=True)
        try:
            read = b""
            async for chunk in response.aiter_raw():
                read += chunk
                if len(read) >= READ_AT_MOST:
                    break
        finally:
            await response.aclose()
        return response.status_code, read[:200].decode(errors="replace").strip()

    async def _public_address(self, host: str, port: int) -> str:
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in found]
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:
            if not is_public(ipaddress.ip_address(address)):
                # (Not which address: the log is the tenant's, the network is not.)
                raise Refused(f"{host} resolves to a private or reserved address")
        return addresses[0]
