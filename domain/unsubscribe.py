"""Signed unsubscribe tokens (docs/inbound-events.md): the link every email carries.

The one-click unsubscribe endpoint (RFC 8058) takes no API key: the token *is* the credential.
It carries the workspace and the lower-cased address, signed with HMAC-SHA256, and never
expires — people click old emails, and an unsubscribe must always work.

Token: ``<payload>.<signature>``, both URL-safe base64 without padding. The payload is the JSON
``[workspace, email]``; the signature covers the payload *text*, so any change to either half,
even one that decodes to the same bytes, is rejected. Pure: stdlib only, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re

# Domain separation: the same secret also signs other tokens (bulk-action confirmations).
_CONTEXT = b"seqflow/unsubscribe/v1\n"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_TOKEN_LENGTH = 2048


def make_token(secret: bytes, workspace: str, email: str) -> str:
    if not secret:
        raise ValueError("an unsubscribe token needs a non-empty secret")
    address = email.strip().lower()
    if not workspace or not address:
        raise ValueError("an unsubscribe token needs a workspace and an email address")
    data = json.dumps([workspace, address], separators=(",", ":"), ensure_ascii=False)
    payload = _b64encode(data.encode())
    return f"{payload}.{_sign(secret, payload)}"


def read_token(secret: bytes, token: str) -> tuple[str, str] | None:
    """(workspace, email) from a token this secret signed; None for anything else."""
    if not secret or not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    if not _TOKEN.fullmatch(token):  # also guarantees ASCII for compare_digest
        return None
    payload, _, signature = token.partition(".")
    if not hmac.compare_digest(_sign(secret, payload), signature):
        return None
    try:
        data = json.loads(_b64decode(payload))
    except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError included
        return None
    if (
        not isinstance(data, list)
        or len(data) != 2
        or not all(isinstance(part, str) and part for part in data)
    ):
        return None
    return data[0], data[1]


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/v1/unsubscribe/{token}"


def _sign(secret: bytes, payload: str) -> str:
    return _b64encode(hmac.new(secret, _CONTEXT + payload.encode(), hashlib.sha256).digest())


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
