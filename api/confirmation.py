"""Confirmation tokens for irreversible bulk actions (stop, delete): a double confirmation.

Stateless and signed, so any API replica can check a token another one issued. It binds the
workspace, sequence, action and exact recipient ids, and expires after a few minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

TTL_SECONDS = 600


def _message(workspace: str, sequence_id: str, action: str, ids: Sequence[str], exp: int) -> bytes:
    return "|".join([workspace, sequence_id, action, ",".join(sorted(ids)), str(exp)]).encode()


def issue(secret: bytes, workspace: str, sequence_id: str, action: str, ids: Sequence[str]) -> str:
    exp = int(time.time()) + TTL_SECONDS
    mac = hmac.new(secret, _message(workspace, sequence_id, action, ids, exp), hashlib.sha256)
    return f"{exp}.{base64.urlsafe_b64encode(mac.digest()).decode().rstrip('=')}"


def verify(
    secret: bytes, token: str, workspace: str, sequence_id: str, action: str, ids: Sequence[str]
) -> bool:
    exp_text, _, signature = token.partition(".")
    if not (exp_text.isascii() and exp_text.isdigit()) or int(exp_text) < time.time():
        return False
    if not signature.isascii():  # compare_digest takes ASCII strings only
        return False
    mac = hmac.new(
        secret, _message(workspace, sequence_id, action, ids, int(exp_text)), hashlib.sha256
    )
    expected = base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
    return hmac.compare_digest(expected, signature)
