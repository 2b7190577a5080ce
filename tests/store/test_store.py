"""The store on SQLite (embedded default) and PostgreSQL (production), same tests for both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.actions import RecipientSituation
from domain.models import SequenceDefinition, SequenceSettings, StepDefinition
from domain.statuses import HoldSource, RecipientStatus, SequenceStatus, StepType
from store.db import Store
from store.holds import PauseBarrier
from store.recipients import NewContact, Projected, Recipients
from store.sequences import Sequences

IN_PROGRESS, PAUSED = RecipientStatus.IN_PROGRESS, RecipientStatus.PAUSED


async def seeded(db: Store, n: int = 3) -> list[str]:
    await Sequences(db).create("acme", "seq_1", SequenceDefinition(name="S", steps=[]))
    enrolled, rejected = await Recipients(db).enroll(
        "acme",
        "seq_1",
        [NewContact(email=f"p{i}@example.com", first_name=f"P{i}") for i in range(n)],
        RecipientStatus.IN_PROGRESS,
    )
    assert rejected == []
    return [e.recipient_id for e in enrolled]


async def test_migrations_are_idempotent_and_ping_works(db: Store) -> None:
    await db.ping()


async def test_enroll_rejects_duplicates_in_sequence_and_in_request(db: Store) -> None:
    await seeded(db, 1)
    enrolled, rejected = await Recipients(db).enroll(
        "acme",
        "seq_1",
        [
            NewContact("P0@example.com"),
            NewContact("new@example.com"),
            NewContact("new@example.com"),
        ],
        RecipientStatus.IN_PROGRESS,
    )
    assert [e.contact.email for e in enrolled] == ["new@example.com"]
    assert [r.email for r in rejected] == ["P0@example.com", "new@example.com"]


async def test_projection_keeps_only_the_newest_version(db: Store) -> None:
    [rid] = await seeded(db, 1)
    due = datetime(2026, 12, 1, 9, tzinfo=UTC)
    recipients = Recipients(db)
    assert await recipients.project([Projected(rid, 5, IN_PROGRESS, 1, due, None)]) == 1
    # A late, older projection (e.g. a retried activity) must not overwrite the newer one.
    assert await recipients.project([Projected(rid, 3, PAUSED, 1, due, None)]) == 0
    row = await recipients.get("acme", "seq_1", rid)
    assert row is not None and row.status == "in_progress" and row.version == 5
    assert row.next_step_at is not None and row.next_step_at.replace(tzinfo=UTC) == due


async def test_a_fan_out_page_is_projected_in_one_statement_newest_version_only(
    db: Store,
) -> None:
    first, second, third = await seeded(db, 3)
    recipients = Recipients(db)
    await recipients.project([Projected(second, 9, IN_PROGRESS, 1, None, None)])
    await PauseBarrier(db).raise_for_recipient(third)  # a person's pause on its way
    due = datetime(2026, 12, 1, 9, tzinfo=UTC)
    await recipients.project(
        [
            Projected(first, 4, PAUSED, 1, None, HoldSource.SEQUENCE),
            Projected(second, 5, PAUSED, 1, None, HoldSource.SEQUENCE),  # older than its row
            Projected(third, 4, IN_PROGRESS, 1, due, None),  # resumed: barrier lifts
        ]
    )
    rows = {r.id: r for r in await recipients.get_many("acme", "seq_1", [first, second, third])}
    assert (rows[first].status, rows[first].pause_source, rows[first].version) == (
        "paused",
        "sequence",
        4,
    )
    assert (rows[second].status, rows[second].version) == ("in_progress", 9)
    assert (rows[third].status, rows[third].hold) == ("in_progress", False)
    assert rows[third].next_step_at is not None
    assert rows[third].next_step_at.replace(tzinfo=UTC) == due


async def test_list_filters_by_status_and_pages_by_keyset(db: Store) -> None:
    ids = await seeded(db, 7)
    recipients = Recipients(db)
    await recipients.project(
        [Projected(rid, 1, PAUSED, 0, None, HoldSource.RECIPIENT) for rid in ids[:3]]
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = await recipients.page("acme", "seq_1", status=None, limit=3, cursor=cursor)
        seen += [row.id for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids  # every recipient once, in enrollment order
    paused = await recipients.page("acme", "seq_1", status=PAUSED, limit=10, cursor=None)
    assert [row.id for row in paused.items] == ids[:3]
    assert await Sequences(db).recipient_counts("seq_1") == {"paused": 3, "in_progress": 4}


async def test_fan_out_pages_reach_everyone_once_either_way(db: Store) -> None:
    ids = await seeded(db, 7)

    async def walk(descending: bool) -> list[str]:
        seen: list[str] = []
        cursor = ""
        while page := await Recipients(db).ids_page("seq_1", cursor, 3, descending=descending):
            seen += page
            cursor = page[-1]
        return seen

    assert await walk(descending=False) == ids
    assert await walk(descending=True) == ids[::-1]  # newest first, for the LRU cache
    # A retried attempt resumes after its heartbeated cursor, in its own direction.
    assert await Recipients(db).ids_page("seq_1", ids[4], 10, descending=True) == [
        ids[3],
        ids[2],
        ids[1],
        ids[0],
    ]


async def test_other_workspace_sees_nothing(db: Store) -> None:
    [rid] = await seeded(db, 1)
    assert await Recipients(db).get("globex", "seq_1", rid) is None
    assert await Sequences(db).get("globex", "seq_1") is None


async def test_delete_removes_the_row(db: Store) -> None:
    [rid, keep] = await seeded(db, 2)
    recipients = Recipients(db)
    await recipients.delete(rid)
    assert await recipients.get("acme", "seq_1", rid) is None
    assert await recipients.get("acme", "seq_1", keep) is not None


async def test_an_older_sequence_change_does_not_overwrite_a_newer_fan_out(db: Store) -> None:
    [rid] = await seeded(db, 1)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    # Resume (epoch 2) is recorded by its fan-out before the pause's answer (epoch 1) gets
    # to its bulk statement: that answer must change nothing.
    barrier, recipients = PauseBarrier(db), Recipients(db)
    await barrier.follow_sequence("seq_1", SequenceStatus.ACTIVE, 2, at)
    assert await barrier.show_sequence_change("seq_1", SequenceStatus.PAUSED, 1, at) is False
    row = await recipients.get("acme", "seq_1", rid)
    assert row is not None and row.status == "in_progress"
    state = await Sequences(db).state("seq_1")
    assert state is not None and (state.status, state.epoch) == ("active", 2)
    assert await barrier.show_sequence_change("seq_1", SequenceStatus.PAUSED, 3, at) is True
    row = await recipients.get("acme", "seq_1", rid)
    assert row is not None and (row.status, row.pause_source) == ("paused", "sequence")
    assert await barrier.show_sequence_change("seq_1", SequenceStatus.ACTIVE, 4, at) is True
    row = await recipients.get("acme", "seq_1", rid)
    assert row is not None and (row.status, row.pause_source) == ("in_progress", None)


@pytest.mark.parametrize("stop_on_response", [True, False])
async def test_the_sequence_pause_statement_holds_exactly_the_running_recipients(
    db: Store, stop_on_response: bool
) -> None:
    """The store's one statement and the workflow ask the same rule (RecipientSituation.running):
    a responded recipient that goes on (stop-on-response off, steps left) is held too."""
    steps = [StepDefinition(type=StepType.EMAIL, delay=timedelta(0))] * 2
    definition = SequenceDefinition(
        name="S", steps=steps, settings=SequenceSettings(stop_on_response=stop_on_response)
    )
    await Sequences(db).create("acme", "seq_r", definition)
    cases = [(status, step) for status in RecipientStatus for step in (1, 2)]
    contacts = [NewContact(email=f"r{i}@example.com") for i in range(len(cases))]
    recipients = Recipients(db)
    enrolled, _ = await recipients.enroll("acme", "seq_r", contacts, IN_PROGRESS)
    await recipients.project(
        [
            Projected(e.recipient_id, 1, status, step, None, None)
            for e, (status, step) in zip(enrolled, cases, strict=True)
        ]
    )
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert await PauseBarrier(db).show_sequence_change("seq_r", SequenceStatus.PAUSED, 1, at)
    rows = {
        r.id: r
        for r in await recipients.get_many("acme", "seq_r", [e.recipient_id for e in enrolled])
    }
    for e, (status, step) in zip(enrolled, cases, strict=True):
        running = RecipientSituation.of(
            status,
            step,
            [s.type for s in steps],
            stop_on_response=stop_on_response,
            sequence_paused=False,
        ).running
        row = rows[e.recipient_id]
        shown = (row.status, row.pause_source)
        expected = ("paused", "sequence") if running else (status.value, None)
        assert shown == expected, (status, step)


async def test_an_event_becomes_one_delivery_per_subscribed_endpoint_once(db: Store) -> None:
    """The outbox statement on both databases: subscribed and enabled endpoints only,
    per-recipient sequence events only where opted in, and a rewrite adds nothing."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from domain.outbound import EventType, OutboundEvent
    from store.tables import WebhookDeliveryRow
    from store.webhooks import Webhooks

    hooks = Webhooks(db)
    kinds = [EventType.RECIPIENT_STATUS_CHANGED, EventType.RECIPIENT_REPLIED]
    plain = await hooks.create("acme", "https://a.example/h", kinds, None, False)
    each = await hooks.create("acme", "https://b.example/h", kinds, None, True)
    off = await hooks.create("acme", "https://c.example/h", kinds, None, False)
    await hooks.change(off.id, enabled=False)
    await hooks.create("acme", "https://d.example/h", [EventType.SEQUENCE_PAUSED], None, True)
    await hooks.create("globex", "https://e.example/h", kinds, None, True)
    now = datetime.now(UTC)
    replied = OutboundEvent(
        id="evt_r1_1_replied", type=EventType.RECIPIENT_REPLIED, at=now, data={}, recipient_id="r1"
    )
    held = OutboundEvent(
        id="evt_r1_2_status_changed",
        type=EventType.RECIPIENT_STATUS_CHANGED,
        at=now,
        data={},
        recipient_id="r1",
        via_sequence=True,
    )
    for _ in range(2):  # written twice: a retried projection
        await hooks.publish("acme", [replied, held])
    async with db.sessions() as session:
        rows = list(await session.scalars(select(WebhookDeliveryRow)))
    assert sorted((r.endpoint_id, r.message_id) for r in rows) == sorted(
        [
            (plain.id, replied.id),
            (each.id, replied.id),
            (each.id, held.id),
        ]
    )
    assert {r.body for r in rows if r.message_id == replied.id} == {replied.body()}
