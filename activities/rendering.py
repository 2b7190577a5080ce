"""Templates render here: in processes of their own, with a deadline and a memory limit.

Rendering is CPU work that Jinja cannot interrupt; on the event loop of an async worker one
slow template would delay every other activity of every workspace, and a thread cannot be
stopped. So a `RenderPool` hands each render to a small pool of processes: the event loop
only waits, a render past its deadline has its process killed (the pool is replaced), and a
render that asks for too much memory fails in its own process. domain.templates' budgets make
the common abuses fail fast with a clear detail before any of that is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from domain.failures import FailureCause
from domain.templates import TemplateProblem, render, trial
from observability import metrics

log = logging.getLogger("seqflow.rendering")

RENDER_DEADLINE = 3.0  # seconds for all the fields of one step
WARM_UP_DEADLINE = 60.0  # a new process starts Python and imports Jinja first
RESTARTS = 3  # times one render is run again when its process was replaced under it
MEMORY_LIMIT = 512 * 1024 * 1024  # bytes of address space per render process

# (field, text) or, for a failure, (field, None, cause, detail): plain tuples cross processes.
_Rendered = tuple[str, str | None, str | None, str | None]


def _start_render_process(parent: int) -> None:
    """In each render process: a memory limit, and no life after its parent's (a parent that
    leaves with os._exit skips the pool's shutdown; its children must not linger, holding
    the parent's stdout open)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):  # not on this platform: the deadline still holds
        pass

    # (Not PR_SET_PDEATHSIG: it fires when the *thread* that started us ends, and a pool may
    # be started from a thread that ends before the process does.)
    def orphaned() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=orphaned, name="exit-with-parent", daemon=True).start()


def _render_fields(fields: Mapping[str, str], context: Mapping[str, Any]) -> list[_Rendered]:
    out: list[_Rendered] = []
    for name, template in fields.items():
        try:
            out.append((name, render(template, context), None, None))
        except TemplateProblem as exc:
            out.append((name, None, exc.cause.value, exc.detail))
            break
    return out


def _trial_fields(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: problem for name, text in fields.items() if (problem := trial(text))}


def _warm() -> None:
    import time

    time.sleep(0.05)  # long enough that each warm-up job lands on a process of its own


class RenderPool:
    def __init__(self, processes: int | None = None) -> None:
        self._processes = processes or min(2, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._starting: asyncio.Lock | None = None
        self._free: asyncio.Semaphore | None = None
        self._tenants: dict[str, tuple[asyncio.Semaphore, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _this_loop(self) -> None:
        """asyncio's locks belong to one event loop; the pool's processes serve any (a test
        may run the API in a thread of its own): new locks for a new loop."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._starting, self._free, self._tenants = loop, None, None, {}

    async def _executor(self) -> ProcessPoolExecutor:
        """The pool, its processes started before any deadline counts."""
        self._this_loop()
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._pool is None:
                # spawn: the parent runs threads (Temporal's core): never fork them.
                pool = ProcessPoolExecutor(
                    self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_render_process,
                    initargs=(os.getpid(),),
                )
                loop = asyncio.get_running_loop()
                warming = [loop.run_in_executor(pool, _warm) for _ in range(self._processes)]
                await asyncio.wait_for(asyncio.gather(*warming), WARM_UP_DEADLINE)
                self._pool = pool
            return self._pool

    async def start(self) -> None:
        """Start the render processes now (a worker does before it polls), so the first
        send does not wait for Python and Jinja to start in them."""
        await self._executor()

    async def _run(self, tenant: str, call: str, function: Any, *args: Any) -> Any:
        """Run in a free process: the deadline counts the render itself, never a queue (nor
        does its metric, `call` naming it). One tenant holds at most all processes but one,
        so others always find one."""
        self._this_loop()
        async with self._tenant_turn(tenant), self._free_process():
            for _ in range(RESTARTS):
                pool = await self._executor()
                try:
                    future = asyncio.get_running_loop().run_in_executor(pool, function, *args)
                    with metrics.rendering(call):
                        return await asyncio.wait_for(future, RENDER_DEADLINE)
                except TimeoutError:
                    log.warning(
                        "a render of %s passed its %.1f s deadline", tenant, RENDER_DEADLINE
                    )
                    self._replace(pool)
                    raise
                except BrokenProcessPool:
                    # Replaced under us (another render's deadline): ours runs again.
                    self._replace(pool)
            raise MemoryError("the render process kept stopping")

    @contextlib.asynccontextmanager
    async def _free_process(self) -> AsyncIterator[None]:
        self._free = self._free or asyncio.Semaphore(self._processes)
        async with self._free:
            yield

    @contextlib.asynccontextmanager
    async def _tenant_turn(self, tenant: str) -> AsyncIterator[None]:
        gate, users = self._tenants.get(tenant, (None, 0))
        gate = gate or asyncio.Semaphore(max(1, self._processes - 1))
        self._tenants[tenant] = (gate, users + 1)
        try:
            async with gate:
                yield
        finally:
            gate, users = self._tenants[tenant]
            if users == 1:
                del self._tenants[tenant]
            else:
                self._tenants[tenant] = (gate, users - 1)

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def render(
        self, fields: Mapping[str, str], context: Mapping[str, Any], tenant: str = ""
    ) -> dict[str, str]:
        """Every field rendered for this contact, or TemplateProblem naming the field.
        `tenant` (the workspace) shares the processes fairly with the others."""
        try:
            results: list[_Rendered] = await self._run(
                tenant, "render", _render_fields, dict(fields), dict(context)
            )
        except TimeoutError:
            raise TemplateProblem(
                FailureCause.TEMPLATE_INVALID,
                f"rendering took longer than {RENDER_DEADLINE:g} s; simplify its loops",
            ) from None
        except MemoryError:
            raise TemplateProblem(
                FailureCause.TEMPLATE_INVALID, "rendering needs too much memory; simplify it"
            ) from None
        rendered: dict[str, str] = {}
        for name, text, cause, detail in results:
            if text is None:
                assert cause is not None and detail is not None
                raise TemplateProblem(FailureCause(cause), f"{name}: {detail}")
            rendered[name] = text
        return rendered

    async def problems(self, fields: Mapping[str, str], tenant: str = "") -> dict[str, str]:
        """Per field, why it can never render (tried against a sample contact); {} if none."""
        wanted = {name: text for name, text in fields.items() if text}
        if not wanted:
            return {}
        try:
            found: dict[str, str] = await self._run(tenant, "check", _trial_fields, wanted)
            return found
        except (TimeoutError, MemoryError) as exc:
            if len(wanted) > 1:  # find the field that does it
                found = {}
                for name, text in wanted.items():
                    found |= await self.problems({name: text}, tenant)
                return found
            name = next(iter(wanted))
            if isinstance(exc, TimeoutError):
                return {name: f"rendering takes longer than {RENDER_DEADLINE:g} s"}
            return {name: "rendering needs too much memory"}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_shared: RenderPool | None = None


def shared_pool() -> RenderPool:
    """The process's render pool (the API and a worker in one process share it)."""
    global _shared
    _shared = _shared or RenderPool()
    return _shared
