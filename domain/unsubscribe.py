"""Signed unsubscribe tokens (docs/inbound-events.md): the link every email carries.

The one-click unsubscribe endpoint (RFC 8058) takes no API key: the token *is* the credential.
It carries the workspace, the lower-cased address and the recipient the email was sent to,
signed with HMAC-SHA256, and never expires — people click old emails, and an unsubscribe
must always work. A token signed with a previous secret is still read (rotation).

Token: ``<payload>.<signature>``, both URL-safe base64 without padding. The payload is the JSON
``[workspace, email, recipient]`` (links sent before recipients were named: ``[workspace,
email]``); the signature covers the payload *text*, so any change to either half, even one
that decodes to the same bytes, is rejected. Pure: stdlib only, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

# Domain separation: the same secret also signs other tokens (bulk-action confirmations).
_CONTEXT = b"seqflow/unsubscribe/v1\n"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True)
class UnsubscribeLink:
    workspace: str
    email: str
    recipient_id: str | None  # None for links sent before tokens named their recipient


def make_token(secret: bytes, workspace: str, email: str, recipient_id: str | None = None) -> str:
    if not secret:
        raise ValueError("an unsubscribe token needs a non-empty secret")
    address = email.strip().lower()
    if not workspace or not address:
        raise ValueError("an unsubscribe token needs a workspace and an email address")
    parts = [workspace, address] + ([recipient_id] if recipient_id else [])
    data = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    payload = _b64encode(data.encode())
    return f"{payload}.{_sign(secret, payload)}"


def read_link(secrets: bytes | Sequence[bytes], token: str) -> UnsubscribeLink | None:
    """What a token one of these secrets signed says; None for anything else."""
    keys = [secrets] if isinstance(secrets, bytes) else list(secrets)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    if not _TOKEN.fullmatch(token):  # also guarantees ASCII for compare_digest
        return None
    payload, _, signature = token.partition(".")
    if not any(key and hmac.compare_digest(_sign(key, payload), signature) for key in keys):
        return None
    try:
        data = json.loads(_b64decode(payload))
    except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError included
        return None
    if (
        not isinstance(data, list)
        or len(data) not in (2, 3)
        or not all(isinstance(part, str) and part for part in data)
    ):
        return None
    return UnsubscribeLink(data[0], data[1], data[2] if len(data) == 3 else None)


def read_token(secret: bytes | Sequence[bytes], token: str) -> tuple[str, str] | None:
    """(workspace, email) from a token this secret signed; None for anything else."""
    link = read_link(secret, token)
    return (link.workspace, link.email) if link else None


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/v1/unsubscribe/{token}"


def _sign(secret: bytes, payload: str) -> str:
    return _b64encode(hmac.new(secret, _CONTEXT + payload.encode(), hashlib.sha256).digest())


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
