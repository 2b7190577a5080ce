"""Delivery status notifications (RFC 3464) posted raw: which addresses failed, hard or soft."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import Message

_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class BouncedAddress:
    email: str
    hard: bool  # 5.x.x: permanent; 4.x.x: transient (a soft bounce, retried later)
    status: str


def parse_dsn(raw: str) -> list[BouncedAddress]:
    """The failed recipients of a multipart/report DSN; [] if it is not one."""
    message = message_from_string(raw, policy=policy.default)
    found: list[BouncedAddress] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part):
            action = (block.get("Action") or "").strip().lower()
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient") or ""
            email = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            match = _STATUS.search(block.get("Status") or "")
            if action not in ("failed", "delayed") or not email or not match:
                continue
            found.append(BouncedAddress(email, hard=match.group(1) == "5", status=match.group(0)))
    return found


def _status_blocks(part: Message) -> list[Message]:
    """A delivery-status part is a per-message block then per-recipient blocks."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package already split the blocks
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else ""
    return [message_from_string(chunk) for chunk in re.split(r"\r?\n\r?\n", text) if chunk]
