"""Ids that sort by creation time, so keyset pagination lists in enrollment order."""

from __future__ import annotations

import secrets
import threading
import time

_lock = threading.Lock()
_last = (0, 0)


def new_id(prefix: str) -> str:
    """prefix_ + 12 hex of milliseconds + 4 hex of a per-process counter + 6 random hex.

    The counter keeps ids made in the same millisecond in creation order within a process.
    """
    global _last
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        ms, counter = _last
        _last = (ms, counter + 1) if now_ms <= ms else (now_ms, 0)
        ms, counter = _last
    return f"{prefix}_{ms:012x}{counter:04x}{secrets.token_hex(3)}"
