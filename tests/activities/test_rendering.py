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
