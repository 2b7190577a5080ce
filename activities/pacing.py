"""How many recipients a fan-out reaches at once: as many as keep Temporal answering about as
fast as it does unloaded, and no more.

A fan-out that sends more than the server can absorb gains nothing: the extra requests only
queue inside the server, and a person's single action queues behind them (on the dev server a
single SQLite writer serves every workflow). So the fan-out watches its own round trips, in the
manner of TCP Vegas: while a batch of them answers within `tolerance` of the quickest seen
lately, one more may be in flight; once they are slower, the limit shrinks in proportion. It
settles where the server is just kept busy, on a 2-core dev server and on a cluster alike
(`bench.head_of_line` measures both sides of the trade).
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field

START = 2
CEILING = 24  # the default of settings.fan_out_concurrency
TOLERANCE = 1.5  # the default of settings.fan_out_latency_tolerance
SMALLEST_BATCH = 4
# The quickest round trip seen is "unloaded". At the floor nothing queued is ours any more, so
# there it creeps up by this much a batch: a server that became slower for good is re-learnt,
# and one lucky answer does not pin the limit low for ever.
DRIFT = 1.02


@dataclass
class Pacing:
    ceiling: int  # settings.fan_out_concurrency
    tolerance: float = TOLERANCE
    floor: int = 1
    limit: float = START
    _batch: list[float] = field(default_factory=list)
    _unloaded: float = float("inf")
    _in_flight: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.limit = float(max(self.floor, min(self.limit, self.ceiling)))

    @property
    def allowed(self) -> int:
        return max(self.floor, int(self.limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> None:
        """Waits for room under the limit; `release` gives it back, `answered` times it."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self.allowed)
            self._in_flight += 1

    async def release(self) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def answered(self, seconds: float) -> None:
        """One round trip's time. After a batch as large as the limit, the limit moves."""
        self._batch.append(seconds)
        if len(self._batch) < max(SMALLEST_BATCH, self.allowed):
            return
        quickest, typical = min(self._batch), statistics.median(self._batch)
        self._batch.clear()
        drift = DRIFT if self.allowed == self.floor else 1.0
        self._unloaded = unloaded = min(quickest, self._unloaded * drift)
        if typical <= unloaded * self.tolerance:
            self.limit = min(self.ceiling, self.limit + 1)
        else:
            # Shrink so the queue it built drains: in proportion to how much slower it got.
            self.limit = max(self.floor, self.limit * unloaded * self.tolerance / typical)
