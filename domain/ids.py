"""Our ids and the Message-ID every message carries: built here, and read back here.

Ids are `{prefix}_{hex}` (store.ids.new_id makes them). A message's Message-ID names its
recipient and step, `<{recipient}.{step}@{domain}>`, so a reply's In-Reply-To or References
finds the exact recipient, and a retried hand-over is recognisable downstream.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Prefix(StrEnum):
    SEQUENCE = "seq"
    RECIPIENT = "rcp"
    CONTACT = "con"
    SENDER = "snd"
    INBOUND_ENDPOINT = "inb"
    WEBHOOK = "whk"
    EVENT = "evt"
    BULK = "blk"


MESSAGE_ID_DOMAIN = "seqflow"

_OUR_MESSAGE_ID = re.compile(rf"<({Prefix.RECIPIENT}_[0-9a-f]+)\.(\d+)@")


def message_id(recipient_id: str, step: int, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """Stable per recipient × step."""
    return f"<{recipient_id}.{step}@{domain}>"


def recipients_in_thread(headers_text: str) -> list[tuple[str, int]]:
    """(recipient id, step) of every Message-ID of ours in In-Reply-To / References text."""
    return [(rid, int(step)) for rid, step in _OUR_MESSAGE_ID.findall(headers_text)]
