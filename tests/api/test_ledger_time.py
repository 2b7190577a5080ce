"""Ledger rules that need days to pass: on a time-skipping server of their own.

The time-skipping server skips time only when no work is outstanding, so these tests live
apart from tests that leave cancelled dispatches behind.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from store.accounts import Accounts
from tests.api.test_ledger_suppression_senders import _sent_count, first_step_sent, status_of
from tests.conftest import Api, SmtpSink, assert_eventually

DAY = timedelta(days=1)


async def test_suppression_is_checked_when_the_step_goes_out(
    api: Api, ts_env: WorkflowEnvironment, smtp: SmtpSink
) -> None:
    sequence = await api.create_sequence()
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    await first_step_sent(api, sequence["id"], ada["id"])  # never skip time mid-activity
    # Suppressed behind the workflow's back (no signal): the claim itself must refuse.
    await Accounts(api.store).suppress("acme", "ada@example.com", "complained")
    await ts_env.sleep(2 * DAY + timedelta(minutes=1))
    done = await status_of(api, sequence["id"], ada["id"], "unsubscribed")
    assert len(smtp.messages) == 1 and done["steps"][1]["state"] == "pending"


async def test_daily_cap_defers_the_overflow_to_the_next_day(
    api: Api, ts_env: WorkflowEnvironment, smtp: SmtpSink
) -> None:
    sender = await api.http.post(
        "/v1/senders", json={"name": "Capped", "email": "cap@acme.com", "daily_cap": 1}
    )
    sequence = await api.create_sequence(sender_id=sender.json()["id"])
    ada, bob = await api.enroll(sequence["id"], "ada@example.com", "bob@example.com")

    async def one_sent_one_deferred() -> None:
        assert len(smtp.messages) == 1
        views = [await api.recipient(sequence["id"], r["id"]) for r in (ada, bob)]
        deferred = [v for v in views if any(e["kind"] == "deferred" for e in v["timeline"])]
        assert len(deferred) == 1 and deferred[0]["status"] == "in_progress"

    await assert_eventually(one_sent_one_deferred)
    await ts_env.sleep(DAY + timedelta(minutes=2))
    await assert_eventually(lambda: _sent_count(smtp, 2))
