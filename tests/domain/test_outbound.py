"""Outbound events from a recipient's history (domain/outbound.py) and which URLs a webhook
may call (domain/webhook_urls.py), without Temporal or a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.models import Announced, PauseInfo, TimelineEntry
from domain.outbound import EventType, recipient_events
from domain.statuses import HoldSource, RecipientStatus
from domain.webhook_urls import url_problem

IDS = {"recipient_id": "rcp_1", "sequence_id": "seq_1", "contact_id": "con_1"}
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
S = RecipientStatus


def entry(kind: str, minutes: int = 0, actor: str = "system", **details: object) -> TimelineEntry:
    return TimelineEntry(
        at=T0 + timedelta(minutes=minutes), kind=kind, actor=actor, details=details
    )


def test_a_step_sent_then_a_pause_by_a_person() -> None:
    start = Announced(entries=1, status=S.IN_PROGRESS)
    timeline = [entry("enrolled"), entry("step_sent", 1, step=0, type="email")]
    events, after = recipient_events(IDS, start, timeline, S.IN_PROGRESS, None)
    assert [(e.type, e.id, e.data["seq"]) for e in events] == [
        (EventType.RECIPIENT_STEP_SENT, "evt_rcp_1_1_step_sent", 1)
    ]
    assert after == Announced(entries=2, status=S.IN_PROGRESS, seq=1)

    pause = PauseInfo(source=HoldSource.RECIPIENT, reason="holiday", paused_at=T0, actor="ada")
    timeline.append(entry("paused", 2, actor="ada", source="recipient", reason="holiday"))
    events, after = recipient_events(IDS, after, timeline, S.PAUSED, pause)
    [changed] = events
    assert (
        changed.type is EventType.RECIPIENT_STATUS_CHANGED
        and changed.id == "evt_rcp_1_2_status_changed"
    )
    assert changed.data == {
        **IDS,
        "seq": 2,
        "from": "in_progress",
        "to": "paused",
        "cause": "paused",
        "actor": "ada",
        "hold": {"source": "recipient", "reason": "holiday", "note": None, "until": None},
    }
    assert not changed.via_sequence
    assert recipient_events(IDS, after, timeline, S.PAUSED, pause) == ([], after)  # nothing new


def test_a_sequence_hold_and_its_release_are_marked_as_the_sequence_s() -> None:
    start = Announced(entries=1, status=S.IN_PROGRESS)
    pause = PauseInfo(source=HoldSource.SEQUENCE, paused_at=T0)
    timeline = [entry("enrolled"), entry("paused", 1, source="sequence", at=T0.isoformat())]
    [held], after = recipient_events(IDS, start, timeline, S.PAUSED, pause)
    assert held.via_sequence and held.data["hold"]["source"] == "sequence"
    timeline.append(entry("resumed", 2, reason="sequence_resumed"))
    [released], _ = recipient_events(IDS, after, timeline, S.IN_PROGRESS, None)
    assert released.via_sequence and released.data["to"] == "in_progress"
    # Resumed by its own `until`: not the sequence's, so every endpoint hears of it.
    timeline.append(entry("resumed", 3, reason="pause_until_reached"))
    [by_until], _ = recipient_events(
        IDS, Announced(entries=3, status=S.PAUSED, seq=2), timeline, S.IN_PROGRESS, None
    )
    assert not by_until.via_sequence


def test_bounces_say_which_kind() -> None:
    start = Announced(entries=0, status=S.IN_PROGRESS)
    timeline = [entry("inbound_soft_bounce", event_id="b1"), entry("inbound_hard_bounce", 1)]
    events, _ = recipient_events(IDS, start, timeline, S.BOUNCED, None)
    assert [(e.type, e.data.get("kind")) for e in events] == [
        (EventType.RECIPIENT_BOUNCED, "soft"),
        (EventType.RECIPIENT_BOUNCED, "hard"),
        (EventType.RECIPIENT_STATUS_CHANGED, None),
    ]


KINDS = ["step_sent", "paused", "resumed", "inbound_reply", "content_edited", "step_failed"]


@given(
    st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(list(S))), max_size=30),
    st.lists(st.integers(min_value=0, max_value=30), max_size=10),
)
def test_however_the_history_is_cut_into_projections_the_events_are_the_same(
    history: list[tuple[str, RecipientStatus]], cuts: list[int]
) -> None:
    """Ids and seq numbers are the same whether every change is projected or only some:
    a rewritten or retried projection can never tell an event under two ids. Status changes
    between two projections collapse into one (from the first to the last)."""
    timeline = [entry("enrolled")]
    statuses = [S.IN_PROGRESS]
    for minute, (kind, status) in enumerate(history, 1):
        timeline.append(entry(kind, minute))
        statuses.append(status)
    points = sorted({min(c, len(history)) for c in cuts} | {len(history)})
    announced = Announced(entries=1, status=S.IN_PROGRESS)
    told = []
    for point in points:
        events, announced = recipient_events(
            IDS, announced, timeline[: point + 1], statuses[point], None
        )
        told += events
    assert [e.data["seq"] for e in told] == list(range(1, len(told) + 1))
    assert len({e.id for e in told}) == len(told)
    timeline_kinds = [e for e in told if e.type is not EventType.RECIPIENT_STATUS_CHANGED]
    expected = [k for k, _ in history if k in ("step_sent", "inbound_reply", "step_failed")]
    assert len(timeline_kinds) == len(expected)
    if told and statuses[-1] != S.IN_PROGRESS:
        last_change = [e for e in told if e.type is EventType.RECIPIENT_STATUS_CHANGED][-1]
        assert last_change.data["to"] == statuses[-1].value


@pytest.mark.parametrize(
    ("url", "dev_mode", "refused"),
    [
        ("https://hooks.example.com/seqflow", False, None),
        ("https://93.184.215.14/hooks", False, None),
        ("http://hooks.example.com/seqflow", False, "must start with https://"),
        ("http://127.0.0.1:8080/hooks", False, "must start with https://"),
        ("http://127.0.0.1:8080/hooks", True, None),
        ("http://localhost:8080/hooks", True, None),
        ("http://hooks.example.com/seqflow", True, "must start with https://"),
        ("https://10.1.2.3/hooks", False, "private, loopback and reserved"),
        ("https://169.254.169.254/latest/meta-data", False, "private, loopback and reserved"),
        ("https://127.0.0.1/hooks", False, "private, loopback and reserved"),
        ("https://[::1]/hooks", False, "private, loopback and reserved"),
        ("https://[::ffff:10.0.0.1]/hooks", False, "private, loopback and reserved"),
        ("https://user:pw@hooks.example.com/", False, "credentials"),
        ("ftp://hooks.example.com/", False, "must start with https://"),
        ("https:///nohost", False, "with a host"),
        ("https://hooks.example.com:99999/", False, "not a URL"),
        ("https://[64:ff9b::a9fe:a9fe]/meta", False, "private, loopback and reserved"),  # NAT64
        ("https://[2002:a00:1::]/hooks", False, "private, loopback and reserved"),  # 6to4 10/8
        ("https://" + "a" * 64 + ".example.com/", False, "not a valid name"),
    ],
)
def test_which_urls_a_webhook_may_call(url: str, dev_mode: bool, refused: str | None) -> None:
    problem = url_problem(url, dev_mode=dev_mode)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem
