"""The render pool (activities/rendering.py): a template that no in-process budget can count
is stopped at its deadline in its own process, and the event loop never waits on it."""

from __future__ import annotations

import asyncio
import time

import pytest

from activities.rendering import RENDER_DEADLINE, RenderPool
from domain.failures import FailureCause
from domain.templates import SAMPLE_CONTEXT, TemplateProblem

# Loops over a list, not over range(): four nested, 300**4 steps. Only the deadline stops it.
RUNAWAY = (
    "{% set l = range(300)|list %}"
    "{% for a in l %}{% for b in l %}{% for c in l %}{% for d in l %}"
    "{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
)


@pytest.fixture
async def pool() -> RenderPool:
    return RenderPool(processes=1)


async def test_a_render_comes_back_from_its_process(pool: RenderPool) -> None:
    rendered = await pool.render({"subject": "Hi {{ first_name }}", "body": "x"}, SAMPLE_CONTEXT)
    assert rendered == {"subject": "Hi Ada", "body": "x"}
    with pytest.raises(TemplateProblem) as raised:
        await pool.render({"body": "{{ nickname }}"}, SAMPLE_CONTEXT)
    assert raised.value.cause is FailureCause.TEMPLATE_VARIABLE_MISSING
    assert raised.value.detail.startswith("body: ")
    pool.close()


async def test_a_runaway_template_is_stopped_and_the_loop_stays_free(pool: RenderPool) -> None:
    await pool.render({"body": "warm"}, SAMPLE_CONTEXT)
    lags: list[float] = []

    async def tick() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    ticking = asyncio.create_task(tick())
    started = time.perf_counter()
    with pytest.raises(TemplateProblem) as raised:
        await pool.render({"body": RUNAWAY}, SAMPLE_CONTEXT)
    took = time.perf_counter() - started
    ticking.cancel()
    assert raised.value.cause is FailureCause.TEMPLATE_INVALID
    assert "longer than" in raised.value.detail
    assert RENDER_DEADLINE <= took < RENDER_DEADLINE + 2
    assert max(lags) < 0.25  # the event loop only waited
    # The stuck process was replaced: the next render works.
    assert await pool.render({"body": "again"}, SAMPLE_CONTEXT) == {"body": "again"}
    assert await pool.problems({"body": RUNAWAY}) == {
        "body": f"rendering takes longer than {RENDER_DEADLINE:g} s"
    }
    pool.close()


async def test_one_workspaces_runaways_leave_a_process_for_the_others() -> None:
    """Workspace A keeps the pool busy with templates that run to their deadline; B's renders
    keep their idle latency (a process is always left for other workspaces, and the deadline
    counts the render itself, never the wait for a process)."""
    pool = RenderPool(processes=2)

    async def b_latencies(n: int) -> list[float]:
        took = []
        for i in range(n):
            started = time.perf_counter()
            assert await pool.render({"body": f"Hi {i}"}, SAMPLE_CONTEXT, tenant="b") == {
                "body": f"Hi {i}"
            }
            took.append(time.perf_counter() - started)
        return took

    idle = sorted(await b_latencies(20))
    noisy = [
        asyncio.create_task(pool.render({"body": RUNAWAY}, SAMPLE_CONTEXT, tenant="a"))
        for _ in range(4)
    ]
    await asyncio.sleep(0.5)  # A's renders hold a process now
    busy = sorted(await b_latencies(20))
    outcomes = await asyncio.gather(*noisy, return_exceptions=True)
    assert all(isinstance(o, TemplateProblem) for o in outcomes), outcomes
    p95 = lambda values: values[int(len(values) * 0.95) - 1]  # noqa: E731
    print(f"\nB's render p95: idle {p95(idle) * 1000:.1f} ms, beside A {p95(busy) * 1000:.1f} ms")
    assert p95(busy) < max(2 * p95(idle), 0.05)
    pool.close()
