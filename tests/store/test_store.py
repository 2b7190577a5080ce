"""The store on SQLite (embedded default) and PostgreSQL (production), same tests for both."""

from __future__ import annotations

from datetime import UTC, datetime

from store.db import NewContact, Projected, Store


async def seeded(db: Store, n: int = 3) -> list[str]:
    await db.create_sequence("acme", "seq_1", "S", {"name": "S", "steps": []})
    enrolled, rejected = await db.enroll(
        "acme",
        "seq_1",
        [NewContact(email=f"p{i}@example.com", first_name=f"P{i}") for i in range(n)],
        "in_progress",
    )
    assert rejected == []
    return [e.recipient_id for e in enrolled]


async def test_migrations_are_idempotent_and_ping_works(db: Store) -> None:
    await db.ping()


async def test_enroll_rejects_duplicates_in_sequence_and_in_request(db: Store) -> None:
    await seeded(db, 1)
    enrolled, rejected = await db.enroll(
        "acme",
        "seq_1",
        [
            NewContact("P0@example.com"),
            NewContact("new@example.com"),
            NewContact("new@example.com"),
        ],
        "in_progress",
    )
    assert [e.contact.email for e in enrolled] == ["new@example.com"]
    assert [r.email for r in rejected] == ["P0@example.com", "new@example.com"]


async def test_projection_keeps_only_the_newest_version(db: Store) -> None:
    [rid] = await seeded(db, 1)
    due = datetime(2026, 12, 1, 9, tzinfo=UTC)
    kwargs = {"current_step": 1, "next_step_at": due, "pause_source": None}
    assert await db.project_recipient(rid, status="in_progress", version=5, **kwargs)
    # A late, older projection (e.g. a retried activity) must not overwrite the newer one.
    assert not await db.project_recipient(rid, status="paused", version=3, **kwargs)
    row = await db.get_recipient("acme", "seq_1", rid)
    assert row is not None and row.status == "in_progress" and row.version == 5
    assert row.next_step_at is not None and row.next_step_at.replace(tzinfo=UTC) == due


async def test_a_fan_out_page_is_projected_in_one_statement_newest_version_only(
    db: Store,
) -> None:
    first, second, third = await seeded(db, 3)
    kwargs = {"current_step": 1, "next_step_at": None, "pause_source": None}
    await db.project_recipient(second, status="in_progress", version=9, **kwargs)
    await db.set_hold(third, True)  # a person's pause on its way: the barrier is up
    due = datetime(2026, 12, 1, 9, tzinfo=UTC)
    await db.project_many(
        [
            Projected(first, 4, "paused", 1, None, "sequence", None),
            Projected(second, 5, "paused", 1, None, "sequence", None),  # older than its row
            Projected(third, 4, "in_progress", 1, due, None, None),  # resumed: barrier lifts
        ]
    )
    rows = {r.id: r for r in await db.get_recipients("acme", "seq_1", [first, second, third])}
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
    for rid in ids[:3]:
        await db.project_recipient(
            rid,
            status="paused",
            current_step=0,
            next_step_at=None,
            pause_source="recipient",
            version=1,
        )
    seen: list[str] = []
    cursor = None
    while True:
        page = await db.list_recipients("acme", "seq_1", status=None, limit=3, cursor=cursor)
        seen += [row.id for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids  # every recipient once, in enrollment order
    paused = await db.list_recipients("acme", "seq_1", status="paused", limit=10, cursor=None)
    assert [row.id for row in paused.items] == ids[:3]
    assert await db.recipient_counts("seq_1") == {"paused": 3, "in_progress": 4}


async def test_fan_out_pages_reach_everyone_once_either_way(db: Store) -> None:
    ids = await seeded(db, 7)

    async def walk(descending: bool) -> list[str]:
        seen: list[str] = []
        cursor = ""
        while page := await db.recipient_ids_page("seq_1", cursor, 3, descending=descending):
            seen += [rid for rid, _ in page]
            cursor = page[-1][0]
        return seen

    assert await walk(descending=False) == ids
    assert await walk(descending=True) == ids[::-1]  # newest first, for the LRU cache
    # A retried attempt resumes after its heartbeated cursor, in its own direction.
    assert [r for r, _ in await db.recipient_ids_page("seq_1", ids[4], 10, descending=True)] == [
        ids[3],
        ids[2],
        ids[1],
        ids[0],
    ]


async def test_other_workspace_sees_nothing(db: Store) -> None:
    [rid] = await seeded(db, 1)
    assert await db.get_recipient("globex", "seq_1", rid) is None
    assert await db.get_sequence("globex", "seq_1") is None


async def test_delete_removes_the_row(db: Store) -> None:
    [rid, keep] = await seeded(db, 2)
    await db.delete_recipient(rid)
    assert await db.get_recipient("acme", "seq_1", rid) is None
    assert await db.get_recipient("acme", "seq_1", keep) is not None


async def test_an_older_sequence_change_does_not_overwrite_a_newer_fan_out(db: Store) -> None:
    [rid] = await seeded(db, 1)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    # Resume (epoch 2) is recorded by its fan-out before the pause's answer (epoch 1) gets
    # to its bulk statement: that answer must change nothing.
    await db.set_sequence_state("seq_1", "active", 2, at)
    assert await db.show_sequence_change("seq_1", "paused", 1, at) is False
    row = await db.get_recipient("acme", "seq_1", rid)
    assert row is not None and row.status == "in_progress"
    state = await db.sequence_state("seq_1")
    assert state is not None and state[:2] == ("active", 2)
    assert await db.show_sequence_change("seq_1", "paused", 3, at) is True
    row = await db.get_recipient("acme", "seq_1", rid)
    assert row is not None and (row.status, row.pause_source) == ("paused", "sequence")
    assert await db.show_sequence_change("seq_1", "active", 4, at) is True
    row = await db.get_recipient("acme", "seq_1", rid)
    assert row is not None and (row.status, row.pause_source) == ("in_progress", None)
