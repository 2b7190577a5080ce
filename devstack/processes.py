"""Child processes of the embedded stack: started, relayed to one terminal, stopped in order.

Each child runs in its own session (process group). A Ctrl-C in the terminal, or a signal sent to
`make`'s whole process group, then reaches only `make` and devstack, and devstack decides the
order: a worker must not lose its Temporal server while it is still finishing activities.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import sys
from collections.abc import Mapping, Sequence

# Lines longer than this are relayed in pieces instead of failing the relay.
_LINE_LIMIT = 1 << 20


def emit(line: str) -> None:
    """Write one line to our stdout at once: the terminal may be a pipe (CI, `make run | tee`)."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Whoever read our output went away; the stack itself must still stop cleanly.
        pass


def say(message: str) -> None:
    emit(f"devstack | {message}")


class Child:
    """One subprocess whose stdout and stderr become `name | …` lines on our stdout."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stop_grace: float,
        quiet_when_stopping: re.Pattern[str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.stop_grace = stop_grace
        # Lines that are only noise once we asked the child to stop (e.g. the Temporal server
        # warning that its own internal pollers lost the connection while it shuts down).
        self.quiet_when_stopping = quiet_when_stopping
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.stopping = False
        self._proc: asyncio.subprocess.Process | None = None
        self._relay: asyncio.Task[None] | None = None
        self.exited: asyncio.Task[int] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,  # no tty assumptions: nothing reads a terminal
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,  # one stream keeps lines in the order written
            start_new_session=True,  # see the module docstring
            limit=_LINE_LIMIT,
        )
        self._relay = asyncio.create_task(self._relay_output(), name=f"relay-{self.name}")
        self.exited = asyncio.create_task(self._wait(), name=f"wait-{self.name}")

    async def _relay_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream = self._proc.stdout
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the limit: relay what is buffered as it is
                raw = await stream.read(_LINE_LIMIT)
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.tail.append(line)
            if self.stopping and self.quiet_when_stopping and self.quiet_when_stopping.search(line):
                continue
            emit(f"{self.name} | {line}")

    async def _wait(self) -> int:
        assert self._proc is not None
        code = await self._proc.wait()
        await self._drain()
        return code

    async def _drain(self) -> None:
        # The pipe reaches EOF when the child exits, unless something it spawned still holds
        # it open; do not let such a straggler hold up our own exit.
        if self._relay is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._relay), timeout=2)
        except TimeoutError:
            self._relay.cancel()

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        try:
            # The whole group: also reaches anything the child started itself.
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # already gone

    async def stop(self, force: asyncio.Event) -> None:
        """SIGTERM, then SIGKILL after `stop_grace` seconds (at once when `force` is set)."""
        if self._proc is None:
            return
        if self._proc.returncode is None:
            self.stopping = True
            self._signal(signal.SIGTERM)
            if not await self._exits_within(self.stop_grace, force):
                why = (
                    "asked again" if force.is_set() else f"not stopped after {self.stop_grace:g} s"
                )
                say(f"{self.name}: {why}, killing it")
            # Also when the leader exited by itself: whatever it left in its group goes too.
            self._signal(signal.SIGKILL)
            await self._proc.wait()
        if self.exited is not None:
            await self.exited

    async def _exits_within(self, seconds: float, force: asyncio.Event) -> bool:
        assert self._proc is not None
        exited = asyncio.ensure_future(self._proc.wait())
        forced = asyncio.ensure_future(force.wait())
        try:
            await asyncio.wait({exited, forced}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            forced.cancel()
            if not exited.done():
                exited.cancel()
        return self._proc.returncode is not None
