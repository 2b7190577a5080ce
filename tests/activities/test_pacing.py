"""The fan-out's limit on recipients in flight (activities/pacing.py), fed the round trips of a
server that answers in `base` seconds up to `capacity` requests at once and queues the rest
(as a single writer does: each request beyond it waits its turn)."""

from __future__ import annotations

import asyncio

import pytest

from activities.pacing import Pacing


def settle(pacing: Pacing, capacity: float, base: float = 0.02, answers: int = 600) -> list[int]:
    seen = []
    for _ in range(answers):
        pacing.answered(base * max(1.0, pacing.allowed / capacity))
        seen.append(pacing.allowed)
    return seen


def test_a_server_that_keeps_up_gets_up_to_the_ceiling() -> None:
    pacing = Pacing(ceiling=24)
    assert pacing.allowed == 2  # a cautious start
    settle(pacing, capacity=1000)
    assert pacing.allowed == 24


def test_a_saturated_server_gets_about_what_it_can_absorb_and_no_more() -> None:
    pacing = Pacing(ceiling=24, tolerance=1.5)
    seen = settle(pacing, capacity=4)
    # Enough to keep it busy, and at most `tolerance` times that queued in it.
    assert all(4 <= n <= 7 for n in seen[-200:]), seen[-200:]


def test_a_server_that_slows_down_sheds_the_load_and_recovers() -> None:
    pacing = Pacing(ceiling=24)
    settle(pacing, capacity=16)
    assert pacing.allowed >= 16
    settle(pacing, capacity=2, answers=200)  # another tenant's burst, say
    assert pacing.allowed <= 3
    settle(pacing, capacity=16, answers=600)
    assert pacing.allowed >= 16


def test_the_limit_stays_between_floor_and_ceiling() -> None:
    pacing = Pacing(ceiling=3)
    settle(pacing, capacity=1000)
    assert pacing.allowed == 3
    for _ in range(100):
        pacing.answered(10.0)  # a server all but stalled
    assert pacing.allowed == 1


async def test_no_more_requests_in_flight_than_allowed() -> None:
    pacing = Pacing(ceiling=24)
    most = 0

    async def request() -> None:
        nonlocal most
        await pacing.acquire()
        most = max(most, pacing.in_flight)
        await asyncio.sleep(0.001)
        await pacing.release()

    await asyncio.gather(*(request() for _ in range(50)))
    assert most == 2  # none answered yet at the start: the first two went alone
    assert pacing.in_flight == 0


@pytest.mark.parametrize("ceiling", [1, 2])
def test_a_small_ceiling_starts_within_it(ceiling: int) -> None:
    assert Pacing(ceiling=ceiling).allowed == ceiling
