"""A dispatch attempt cancelled while it claims (a timed-out attempt on a busy worker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from activities.dispatch import StepDispatcher
from domain.models import SequenceDefinition
from domain.statuses import RecipientStatus
from store.db import Store
from store.ledger import ClaimResult, Ledger, Outbound
from store.recipients import NewContact, Recipients
from store.sequences import Sequences
from tests.conftest import outbound


class SlowLedger(Ledger):
    """Claims like the real ledger, after a wait (a busy database) we can cancel into."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.waiting = asyncio.Event()

    async def claim(self, out: Outbound, now: datetime | None = None) -> ClaimResult:
        self.waiting.set()
        await asyncio.sleep(0.2)
        return await super().claim(out, now)


async def test_a_claim_cancelled_midway_is_given_back_not_left_unowned(store: Store) -> None:
    await Sequences(store).create("acme", "seq_c", SequenceDefinition(name="S", steps=[]))
    [row], _ = await Recipients(store).enroll(
        "acme", "seq_c", [NewContact("ada@example.com")], RecipientStatus.IN_PROGRESS
    )
    ledger = SlowLedger(store)
    out = outbound(row.recipient_id, "seq_c")
    attempt = asyncio.create_task(StepDispatcher({}, ledger)._claim(out, datetime.now(UTC)))
    await ledger.waiting.wait()
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    # The claim went through and was handed back: the next attempt may send it.
    assert [r.state for r in await ledger.rows_for(row.recipient_id)] == ["released"]
