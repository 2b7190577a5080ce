"""The inbound-reply classifier (docs/inbound-events.md) over a corpus of realistic messages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from corpora.replies import CORPUS, Case, score
from domain.inbound import ReplyClassification, ReplyKind, classify_reply, return_morning

MIN_OOO_PRECISION = 0.95
MIN_OOO_RECALL = 0.95
MIN_DATE_ACCURACY = 0.9


def classify(case: Case) -> ReplyClassification:
    return classify_reply(
        subject=case.subject,
        text=case.text,
        headers=case.headers,
        received_at=case.received_at,
        timezone=case.timezone,
    )


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def test_corpus_is_large_and_ids_are_unique() -> None:
    assert len(CORPUS) >= 70
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", [_param(case) for case in CORPUS])
def test_classifies_corpus_message(case: Case) -> None:
    result = classify(case)

    assert (result.kind, result.return_date) == (case.kind, case.return_date), result.evidence
    assert result.evidence


def test_ooo_precision_recall_and_date_accuracy() -> None:
    scores = score(CORPUS, classify)

    misses = "\n".join(f"{c.id}: {r.kind} {r.return_date} ({r.evidence})" for c, r in scores.misses)
    assert scores.ooo_precision >= MIN_OOO_PRECISION, misses
    assert scores.ooo_recall >= MIN_OOO_RECALL, misses
    assert scores.date_accuracy >= MIN_DATE_ACCURACY, misses
    # Every miss is a known one, marked xfail in the corpus.
    assert {c.id for c, _ in scores.misses} == {c.id for c in CORPUS if c.xfail}


def test_only_out_of_office_carries_a_return_date() -> None:
    for case in CORPUS:
        result = classify(case)
        if result.kind is not ReplyKind.OUT_OF_OFFICE:
            assert result.return_date is None, case.id


def test_return_date_is_never_before_the_day_received() -> None:
    for case in CORPUS:
        result = classify(case)
        if result.return_date is not None:
            assert result.return_date >= case.received_at.date(), case.id


def test_naive_received_at_is_read_as_utc() -> None:
    result = classify_reply(
        subject="Out of office",
        text="I'm on vacation and back tomorrow.",
        headers={"Auto-Submitted": "auto-replied"},
        received_at=datetime(2026, 11, 20, 23, 30),
        timezone="Europe/Paris",
    )

    assert result.return_date == date(2026, 11, 22)


def test_header_names_are_case_insensitive() -> None:
    result = classify_reply(
        subject="Re: hello",
        text="We have received your message.",
        headers={"AUTO-SUBMITTED": "auto-generated"},
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
    )

    assert result.kind is ReplyKind.AUTO_REPLY
    assert result.evidence == "header Auto-Submitted: auto-generated"


def test_bounce_evidence_carries_the_status_code() -> None:
    result = classify_reply(
        subject="Undelivered Mail Returned to Sender",
        text="said: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
        headers={},
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
    )

    assert result.kind is ReplyKind.BOUNCE
    assert "5.1.1" in result.evidence


# ---- return_morning across Europe/Paris DST changes (29 March and 25 October 2026) ----------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 28), datetime(2026, 3, 28, 8, 0, tzinfo=UTC)),  # CET, UTC+1
        (date(2026, 3, 29), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),  # change at 02:00
        (date(2026, 3, 30), datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),  # CEST, UTC+2
        (date(2026, 10, 24), datetime(2026, 10, 24, 7, 0, tzinfo=UTC)),  # CEST
        (date(2026, 10, 25), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),  # change at 03:00
        (date(2026, 10, 26), datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),  # CET
    ],
)
def test_return_morning_is_nine_local_across_dst(day: date, expected: datetime) -> None:
    morning = return_morning(day, "Europe/Paris")

    assert morning == expected
    assert morning.tzinfo is UTC


def test_return_morning_in_the_skipped_spring_hour_lands_after_the_change() -> None:
    # 02:00 does not exist in Paris on 29 March 2026; read with the winter offset it is 01:00Z,
    # i.e. 03:00 summer time.
    assert return_morning(date(2026, 3, 29), "Europe/Paris", hour=2) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )


def test_return_morning_in_the_repeated_autumn_hour_is_its_first_occurrence() -> None:
    assert return_morning(date(2026, 10, 25), "Europe/Paris", hour=2) == datetime(
        2026, 10, 25, 0, 0, tzinfo=UTC
    )


def test_return_morning_other_hour_and_utc() -> None:
    assert return_morning(date(2026, 12, 1), "UTC", hour=8) == datetime(
        2026, 12, 1, 8, 0, tzinfo=UTC
    )
