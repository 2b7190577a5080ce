"""The delivery ledger on SQLite and PostgreSQL: at most one send, and the checks at claim time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import SequenceDefinition, Vacation
from domain.statuses import RecipientStatus, SequenceStatus
from store.accounts import Accounts
from store.db import Store
from store.holds import PauseBarrier
from store.ledger import UNCERTAIN_COUNT, Claim, Ledger, Outbound
from store.recipients import NewContact, Projected, Recipients
from store.sequences import Sequences
from tests.conftest import outbound


async def setup(db: Store) -> tuple[Ledger, Outbound]:
    await Sequences(db).create("acme", "seq_1", SequenceDefinition(name="S", steps=[]))
    [enrolled], _ = await Recipients(db).enroll(
        "acme", "seq_1", [NewContact("ada@example.com")], RecipientStatus.IN_PROGRESS
    )
    out = outbound(enrolled.recipient_id, "seq_1", body="Hello", message_id="<m@seqflow>")
    return Ledger(db), out


async def test_a_sent_row_is_never_sent_again(db: Store) -> None:
    ledger, out = await setup(db)
    first = await ledger.claim(out)
    assert first.claim is Claim.CLAIMED and first.row_id
    await ledger.finish(first.row_id, "sent", "prov-1")
    again = await ledger.claim(out)  # a retried activity
    assert again.claim is Claim.ALREADY_SENT and again.provider_message_id == "prov-1"
    [row] = await ledger.rows_for(out.recipient_id)
    assert (row.state, row.body, row.to) == ("sent", "Hello", "ada@example.com")


async def test_an_unfinished_claim_is_uncertain_not_guessed(db: Store) -> None:
    ledger, out = await setup(db)
    t0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    await ledger.claim(out, now=t0)  # the attempt dies here (kill -9)
    # Within the grace the earlier attempt may still be finishing: not a verdict yet.
    early = await ledger.claim(out, now=t0 + timedelta(seconds=10))
    assert (early.claim, early.retry_after) == (Claim.IN_PROGRESS, timedelta(seconds=35))
    assert (await ledger.claim(out, now=t0 + timedelta(seconds=46))).claim is Claim.UNCERTAIN
    assert [r.state for r in await ledger.rows_for(out.recipient_id)] == ["uncertain"]
    # A person checked and retried: a new dispatch key may be claimed.
    fresh = await ledger.claim(Outbound(**{**out.__dict__, "dispatch_key": "1"}))
    assert fresh.claim is Claim.CLAIMED


async def test_the_uncertain_count_reads_only_the_uncertain_rows(db: Store) -> None:
    ledger, out = await setup(db)
    t0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    for key in ("0", "1", "2"):
        await ledger.claim(Outbound(**{**out.__dict__, "dispatch_key": key}), now=t0)
    first = await ledger.claim(Outbound(**{**out.__dict__, "step": 1}), now=t0)
    assert first.row_id
    await ledger.finish(first.row_id, "sent", "prov-1")
    await ledger.claim(out, now=t0 + timedelta(minutes=5))  # key "0" dies: uncertain
    assert await ledger.uncertain_count() == 1
    # Counted at every /metrics scrape: from the partial index, not by reading the ledger.
    sql = str(UNCERTAIN_COUNT.compile(db.engine))
    async with db.engine.connect() as connection:
        if db.engine.dialect.name == "sqlite":
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
        else:
            await connection.exec_driver_sql("SET enable_seqscan = off")  # a tiny table
            plan = (await connection.exec_driver_sql(f"EXPLAIN {sql}")).all()
    assert "ix_deliveries_uncertain" in str(plan), plan


async def test_failed_or_released_rows_may_be_claimed_again(db: Store) -> None:
    ledger, out = await setup(db)
    for state in ("failed", "released"):
        claimed = await ledger.claim(out)
        assert claimed.claim is Claim.CLAIMED and claimed.row_id
        await ledger.finish(claimed.row_id, state)
    assert len(await ledger.rows_for(out.recipient_id)) == 1


async def test_suppression_and_pause_barrier_refuse_the_claim(db: Store) -> None:
    ledger, out = await setup(db)
    await PauseBarrier(db).raise_for_recipient(out.recipient_id)
    assert (await ledger.claim(out)).claim is Claim.HELD
    await PauseBarrier(db).lower_for_recipient(out.recipient_id)
    await PauseBarrier(db).raise_for_sequence("seq_1")
    assert (await ledger.claim(out)).claim is Claim.HELD
    await PauseBarrier(db).follow_sequence("seq_1", SequenceStatus.ACTIVE, 1, None)
    await Accounts(db).suppress("acme", "ADA@example.com", "unsubscribed")
    assert (await ledger.claim(out)).claim is Claim.SUPPRESSED
    assert await ledger.rows_for(out.recipient_id) == []  # nothing claimed, nothing sent


async def test_sender_disconnected_and_daily_cap(db: Store) -> None:
    ledger, out = await setup(db)
    accounts = Accounts(db)
    sender = await accounts.create_sender("acme", "Ada's mailbox", "ada@acme.test", daily_cap=1)
    await PauseBarrier(db).raise_for_sender("seq_1", sender.id)
    out = Outbound(**{**out.__dict__, "sender_id": sender.id})
    await accounts.update_sender(sender.id, status="disconnected")
    assert (await ledger.claim(out)).claim is Claim.SENDER_DISCONNECTED
    await accounts.update_sender(sender.id, status="connected")
    assert (await ledger.claim(out)).claim is Claim.CLAIMED
    second = Outbound(**{**out.__dict__, "step": 1})
    assert (await ledger.claim(second)).claim is Claim.SENDER_CAPPED


async def test_a_sender_change_refuses_claims_from_the_old_sender(db: Store) -> None:
    ledger, out = await setup(db)
    new = await Accounts(db).create_sender("acme", "Grace's mailbox", "grace@acme.test", None)
    await PauseBarrier(db).raise_for_sender("seq_1", new.id)
    # The recipient still carries the old sender: it is told the new one (and pauses).
    refused = await ledger.claim(out)
    assert (refused.claim, refused.sender_id) == (Claim.SENDER_CHANGED, new.id)
    assert await ledger.rows_for(out.recipient_id) == []
    assert (await ledger.claim(Outbound(**{**out.__dict__, "sender_id": new.id}))).claim is (
        Claim.CLAIMED
    )


async def test_an_older_definition_does_not_overwrite_a_newer_one(db: Store) -> None:
    await Sequences(db).create("acme", "seq_2", SequenceDefinition(name="S", steps=[], version=1))
    await Sequences(db).follow_definition(
        "seq_2", SequenceDefinition(name="S", steps=[], version=3)
    )
    await Sequences(db).follow_definition(
        "seq_2", SequenceDefinition(name="old", steps=[], version=2)
    )
    row = await Sequences(db).get("acme", "seq_2")
    assert row is not None and row.definition["version"] == 3


async def test_a_step_sent_under_one_key_is_not_sent_under_another(db: Store) -> None:
    ledger, out = await setup(db)
    claimed = await ledger.claim(out)
    assert claimed.row_id
    await ledger.finish(claimed.row_id, "sent", "prov-1")
    retried = await ledger.claim(Outbound(**{**out.__dict__, "dispatch_key": "1"}))
    assert retried.claim is Claim.ALREADY_SENT


async def test_a_bulk_pause_holds_at_the_ledger_until_its_recipient_has_taken_it(db: Store) -> None:
    """No projection lowers it (a late one from before the pause would, for `hold`)."""
    ledger, out = await setup(db)
    barrier, recipients = PauseBarrier(db), Recipients(db)
    await barrier.raise_for_many("blk_1", [out.recipient_id], "webinar", None)
    [shown] = await recipients.get_many("acme", "seq_1", [out.recipient_id])
    assert (shown.status, shown.pause_reason) == ("paused", "webinar")
    await recipients.project([_projected_running(out.recipient_id)])  # a projection from before
    assert (await ledger.claim(out)).claim is Claim.HELD
    await barrier.taken("blk_1", [out.recipient_id])
    assert (await ledger.claim(out)).claim is Claim.CLAIMED


async def test_a_bulk_change_that_cannot_start_puts_the_rows_back(db: Store) -> None:
    ledger, out = await setup(db)
    barrier, recipients = PauseBarrier(db), Recipients(db)
    [before] = await recipients.get_many("acme", "seq_1", [out.recipient_id])
    await barrier.raise_for_many("blk_2", [out.recipient_id], "webinar", None)
    await barrier.restore("blk_2", [before])
    [after] = await recipients.get_many("acme", "seq_1", [out.recipient_id])
    assert (after.status, after.pause_reason) == ("in_progress", None)
    assert (await ledger.claim(out)).claim is Claim.CLAIMED


async def test_a_sender_away_is_refused_with_its_vacations(db: Store) -> None:
    now = datetime.now(UTC)
    sender = await Accounts(db).create_sender("acme", "Ada", "ada@acme.com", None)
    definition = SequenceDefinition(name="S", steps=[])
    definition.settings = definition.settings.model_copy(update={"sender_id": sender.id})
    await Sequences(db).create("acme", "seq_2", definition)
    [enrolled], _ = await Recipients(db).enroll(
        "acme", "seq_2", [NewContact("ada@example.com")], RecipientStatus.IN_PROGRESS
    )
    out = outbound(enrolled.recipient_id, "seq_2", sender_id=sender.id)
    planned = Vacation(start=now + timedelta(hours=1), end=now + timedelta(hours=2))
    changed = await PauseBarrier(db).plan_vacation("acme", sender.id, planned, now)
    assert changed is not None and changed[1] == ["seq_2"]
    ledger = Ledger(db)
    before = await ledger.claim(out, now=now)
    assert before.claim is Claim.CLAIMED and before.row_id  # planned, not yet
    await ledger.finish(before.row_id, "released")
    away = await ledger.claim(out, now=now + timedelta(minutes=90))
    assert away.claim is Claim.SENDER_AWAY and away.vacations
    assert Vacation.model_validate(away.vacations[0]).start == planned.start
    later = await ledger.claim(out, now=now + timedelta(hours=2))
    assert later.claim is Claim.CLAIMED


def _projected_running(recipient_id: str) -> Projected:
    return Projected(recipient_id, 5, RecipientStatus.IN_PROGRESS, 0, None, None)
