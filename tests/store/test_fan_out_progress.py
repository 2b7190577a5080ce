"""A sequence's fan-out progress on its row (SQLite and PostgreSQL): what the fan-out activity
writes once per page, and what `GET /v1/sequences/{sid}` shows of it as `fan_out`."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.models import SequenceDefinition
from domain.statuses import RecipientStatus, SequenceStatus
from store.db import Store
from store.holds import PauseBarrier
from store.recipients import NewContact, Recipients
from store.sequences import FanOut, Sequences, fan_out_of

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


async def sequence_of(db: Store, recipients: int) -> Sequences:
    sequences = Sequences(db)
    await sequences.create("acme", "seq_1", SequenceDefinition(name="S", steps=[]))
    people = [NewContact(email=f"p{i}@example.com") for i in range(recipients)]
    await Recipients(db).enroll("acme", "seq_1", people, RecipientStatus.IN_PROGRESS)
    return sequences


async def shown(sequences: Sequences) -> FanOut | None:
    row = await sequences.get("acme", "seq_1")
    assert row is not None
    counts = await sequences.recipient_counts("seq_1")
    return fan_out_of(row, recipients_now=sum(counts.values()))


async def acknowledge(db: Store, epoch: int) -> None:
    """What the API and the fan-out write of the pause/resume itself (store/holds.py)."""
    status = SequenceStatus.PAUSED if epoch % 2 else SequenceStatus.ACTIVE
    await PauseBarrier(db).follow_sequence("seq_1", status, epoch, AT)


async def test_progress_counts_up_per_page_and_never_back_nor_from_an_older_epoch(
    db: Store,
) -> None:
    sequences = await sequence_of(db, 5)
    assert await shown(sequences) is None  # never paused or resumed

    await acknowledge(db, 1)
    assert await shown(sequences) == FanOut(1, 0, 5)  # acknowledged, its fan-out not begun
    await sequences.fan_out_begun("seq_1", 1)
    await sequences.fan_out_reached("seq_1", 1, 2)
    assert await shown(sequences) == FanOut(1, 2, 5)
    await sequences.fan_out_begun("seq_1", 1)  # a retried attempt: keeps what was reached
    await sequences.fan_out_reached("seq_1", 1, 1)  # a late write of an earlier page
    assert await shown(sequences) == FanOut(1, 2, 5)

    await acknowledge(db, 2)  # resumed: the pause's fan-out is superseded
    assert await shown(sequences) == FanOut(2, 0, 5)
    await sequences.fan_out_begun("seq_1", 2)
    await sequences.fan_out_reached("seq_1", 1, 4)  # the pause's last page, too late
    await sequences.fan_out_begun("seq_1", 1)
    assert await shown(sequences) == FanOut(2, 0, 5)
    await sequences.fan_out_reached("seq_1", 2, 5, done=True)
    assert await shown(sequences) == FanOut(2, 5, 5)


async def test_total_is_what_it_had_to_reach_and_done_says_reached_is_all(db: Store) -> None:
    sequences = await sequence_of(db, 3)
    await acknowledge(db, 1)
    await sequences.fan_out_begun("seq_1", 1)
    await Recipients(db).enroll(
        "acme", "seq_1", [NewContact(email="late@example.com")], RecipientStatus.PAUSED
    )
    assert await shown(sequences) == FanOut(1, 0, 3)  # counted when it began
    await sequences.fan_out_reached("seq_1", 1, 4)  # it reached the late one too
    assert await shown(sequences) == FanOut(1, 4, 4)

    await acknowledge(db, 2)
    await sequences.fan_out_begun("seq_1", 2)
    assert await shown(sequences) == FanOut(2, 0, 4)
    await sequences.fan_out_reached("seq_1", 2, 3, done=True)  # one was deleted meanwhile
    assert await shown(sequences) == FanOut(2, 3, 3)
