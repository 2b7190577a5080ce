"""Signed inbound webhooks (docs/inbound-events.md, "A provider's own endpoint").

A provider signs each post: `Seqflow-Timestamp: <unix seconds>` and
`Seqflow-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. We accept it when one
of the endpoint's secrets made that signature and the timestamp is within `TOLERANCE` of our
clock, so a captured post cannot be replayed later. Several `v1=` values may be sent (space or
comma separated), e.g. while the provider rotates. Pure: stdlib only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

TOLERANCE = 300  # seconds either way
_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")


class SignatureRefused(Exception):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secrets: Sequence[str], timestamp: str | None, signature: str | None, body: bytes, now: float
) -> None:
    """Returns if the post is genuine and fresh; raises SignatureRefused saying why not."""
    if not timestamp or not signature:
        raise SignatureRefused("send Seqflow-Timestamp and Seqflow-Signature headers")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureRefused("Seqflow-Timestamp must be Unix seconds")
    moment = int(timestamp)
    if abs(now - moment) > TOLERANCE:
        raise SignatureRefused(f"Seqflow-Timestamp is more than {TOLERANCE} s from now")
    sent = _SIGNATURE.findall(signature)
    if not sent:
        raise SignatureRefused("Seqflow-Signature must be v1=<64 hex digits>")
    for secret in secrets:
        expected = sign(secret, moment, body).removeprefix("v1=")
        if any(hmac.compare_digest(expected, value) for value in sent):
            return
    raise SignatureRefused("the signature does not match this endpoint's secret")
