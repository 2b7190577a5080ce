"""`make run`: the whole stack in one terminal — Temporal dev server, SMTP sink, worker, API.

Startup waits for each part before starting what depends on it and prints the URLs once the
API is ready. Ctrl-C / SIGINT / SIGTERM stops everything in order API → worker → Temporal (the
worker finishes its activities while Temporal still answers) and exits 0. Once running, a child
that dies on its own is started again after a back-off (1 s, doubling up to 30 s; back to 1 s
once it has stayed up a minute): the API and the worker reconnect to a restarted Temporal by
themselves, and its workflows and timers are in its database file. A child dying during
start-up stops the rest and exits 1.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable
from contextlib import suppress
from typing import TypeVar

from aiosmtpd.controller import Controller

from console.session import login_link
from devstack.plan import DEV_USER, DEV_WORKSPACE, Plan, StartupError, make_plan
from devstack.processes import Child, emit, say
from devstack.readiness import check_port_free, wait_for_api, wait_for_temporal
from devstack.smtp_sink import start_smtp_sink
from settings import DATA_DIR, Settings, get_settings
from store.migrate import upgrade_to_head

T = TypeVar("T")

# Seconds between SIGTERM and SIGKILL. The worker's own graceful shutdown lets running
# activities finish for SEQFLOW_SHUTDOWN_GRACE (settings.py), so it gets a little more than
# that (WORKER_GRACE_MARGIN; the local SMTP sink answers a send's DATA at once).
API_GRACE, WORKER_GRACE_MARGIN, TEMPORAL_GRACE = 5.0, 5.0, 5.0

# One stop request can arrive more than once: a signal to `make`'s process group reaches us,
# and GNU make forwards SIGTERM to its recipe as well. Only a later signal means "kill now".
DUPLICATE_SIGNAL_WINDOW = 1.0

RESTART_FIRST, RESTART_MAX, RESTART_STABLE = 1.0, 30.0, 60.0


class Interrupted(Exception):
    """A person (or a supervisor) asked us to stop."""


class ChildDied(Exception):
    def __init__(self, child: Child, code: int) -> None:
        super().__init__(f"{child.name} exited with code {code}")
        self.child, self.code = child, code


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event, children: list[Child]) -> T:
    """Await `work`, but give up as soon as a stop is requested or any child exits."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    exits = {child.exited for child in children if child.exited is not None}
    done, _ = await asyncio.wait({task, stopped, *exits}, return_when="FIRST_COMPLETED")
    stopped.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with suppress(asyncio.CancelledError, Exception):
        await task
    if stopped in done:
        raise Interrupted
    child = next(c for c in children if c.exited in done)
    assert child.exited is not None
    raise ChildDied(child, child.exited.result())


async def supervise(children: list[Child], stop: asyncio.Event) -> None:
    """Until a stop is requested: a child that exits is started again, after a back-off."""
    loop = asyncio.get_running_loop()
    backoff = {child.name: RESTART_FIRST for child in children}
    started = {child.name: time.monotonic() for child in children}
    while True:
        try:
            await unless_stopped(loop.create_future(), stop, children)
        except ChildDied as died:
            child = died.child
            if time.monotonic() - started[child.name] > RESTART_STABLE:
                backoff[child.name] = RESTART_FIRST
            delay = backoff[child.name]
            say(f"{child.name} exited (code {died.code}); starting it again in {delay:g} s")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                raise Interrupted from None
            await child.start()
            started[child.name] = time.monotonic()
            backoff[child.name] = min(delay * 2, RESTART_MAX)
            say(f"{child.name} started again (pid {child.pid})")


def console_url(plan: Plan) -> str:
    """A one-time link that signs the development user in (10 minutes), or the sign-in page."""
    key = plan.dev_api_key
    if not key:
        return f"{plan.api_url}/signin"
    signer = Settings(
        api_keys=plan.child_env["SEQFLOW_API_KEYS"],
        token_secret=plan.child_env.get("SEQFLOW_TOKEN_SECRET", ""),
    )
    return plan.api_url + login_link(signer, key)


def print_banner(plan: Plan, seconds: float) -> None:
    settings = plan.settings
    key = plan.dev_api_key or "<your key from SEQFLOW_API_KEYS>"
    if plan.dev_api_key:
        key_line = (
            f"{key}  (workspace {DEV_WORKSPACE}, user {DEV_USER}; kept in {DATA_DIR}/dev-api-key)"
        )
    else:
        key_line = "from SEQFLOW_API_KEYS"
    if plan.smtp_sink:
        email = (
            f"SMTP sink on 127.0.0.1:{settings.smtp_port} -> {settings.outbox_dir}/ "
            f"(listed by GET {plan.api_url}/dev/outbox)"
        )
    else:
        email = f"sent to {settings.smtp_host}:{settings.smtp_port} (SEQFLOW_SMTP_HOST)"
    rule = "-" * 78
    lines = [
        rule,
        f" seqflow is ready (started in {seconds:.1f} s)",
        f"   Console      {console_url(plan)}",
        f"   API          {plan.api_url}   docs: {plan.api_url}/docs",
        f"   Temporal UI  {plan.ui_url}",
        f"   Email        {email}",
    ]
    if not settings.provider_url:
        lines.append(f"   SMS/LinkedIn JSON files in {settings.outbox_dir}/ (same listing)")
    lines += [
        f"   API key      {key_line}",
        f"   Try          curl -H 'Authorization: Bearer {key}' {plan.api_url}/v1/sequences",
        " Ctrl-C stops everything.",
        rule,
    ]
    for line in lines:
        emit(line)


async def run() -> int:
    started = time.monotonic()
    stop, force = asyncio.Event(), asyncio.Event()

    first_signal_at: float | None = None

    def on_signal(sig: signal.Signals) -> None:
        nonlocal first_signal_at
        now = time.monotonic()
        if first_signal_at is None:
            first_signal_at = now
            say(f"{sig.name}: stopping (press Ctrl-C again to kill at once)")
            stop.set()
        elif now - first_signal_at > DUPLICATE_SIGNAL_WINDOW:
            force.set()  # asked again: no more waiting for graceful shutdowns

    loop = asyncio.get_running_loop()
    # SIGHUP too: closing the terminal window must not leave servers running.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)

    children: list[Child] = []
    sink: Controller | None = None
    code = 0
    try:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        settings = get_settings()
        plan = make_plan(settings, os.environ, DATA_DIR)
        check_port_free(
            "127.0.0.1", plan.temporal_port, "Temporal", "SEQFLOW_TEMPORAL_ADDRESS=127.0.0.1:<port>"
        )
        check_port_free(
            "127.0.0.1", settings.temporal_ui_port, "Temporal UI", "SEQFLOW_TEMPORAL_UI_PORT=<port>"
        )
        check_port_free(settings.api_host, settings.api_port, "API", "SEQFLOW_API_PORT=<port>")
        if plan.smtp_sink:
            check_port_free(
                "127.0.0.1", settings.smtp_port, "SMTP sink", "SEQFLOW_SMTP_PORT=<port>"
            )

        say(f"starting Temporal dev server on {settings.temporal_address}")
        temporal = Child(
            "temporal",
            plan.temporal_argv,
            os.environ,
            stop_grace=TEMPORAL_GRACE,
            # While it shuts down, its internal workers warn that they lost the connection.
            quiet_when_stopping=re.compile(r"level=WARN"),
        )
        try:
            await temporal.start()
        except OSError as exc:
            raise StartupError(f"cannot run {plan.temporal_argv[0]}: {exc}") from None
        children.append(temporal)

        if plan.smtp_sink:
            try:
                sink = await asyncio.to_thread(
                    start_smtp_sink, "127.0.0.1", settings.smtp_port, settings.outbox_dir
                )
            except OSError as exc:
                raise StartupError(f"cannot start the SMTP sink: {exc}") from None

        # Migrating here, before the worker and the API both try on a fresh database, keeps
        # two processes from creating the same tables at once.
        try:
            await unless_stopped(
                asyncio.gather(wait_for_temporal(settings), upgrade_to_head(settings.database_url)),
                stop,
                children,
            )
        except ChildDied as died:
            tail = "\n".join(f"    {line}" for line in list(temporal.tail)[-15:])
            raise StartupError(
                f"the Temporal dev server exited (code {died.code}) before it was ready. "
                f"Its last lines:\n{tail}"
            ) from None
        say(f"Temporal ready after {time.monotonic() - started:.1f} s; starting worker and API")

        python = sys.executable
        worker_grace = settings.worker_shutdown_grace().total_seconds() + WORKER_GRACE_MARGIN
        for name, grace in (("worker", worker_grace), ("api", API_GRACE)):
            child = Child(name, [python, "-m", name], plan.child_env, stop_grace=grace)
            await child.start()
            children.append(child)

        await unless_stopped(wait_for_api(plan.api_url), stop, children)
        print_banner(plan, time.monotonic() - started)

        await supervise(children, stop)  # until a stop
    except Interrupted:
        code = 0
    except ChildDied as died:
        say(f"{died.child.name} exited unexpectedly (code {died.code}); stopping the others")
        code = 1
    except StartupError as exc:
        say(f"cannot start: {exc}")
        code = 1
    finally:
        # Reverse start order: API, worker, then Temporal.
        for child in reversed(children):
            await child.stop(force)
        if sink is not None:
            await asyncio.to_thread(sink.stop)
        if children:
            say("stopped" if code == 0 else "stopped after a failure")
    return code


def main() -> None:
    code = asyncio.run(run())
    with suppress(OSError):  # stdout may be a pipe whose reader is gone
        sys.stdout.flush()
        sys.stderr.flush()
    # A process that used the Temporal client can abort at interpreter exit (see the note in
    # tests/conftest.py, temporalio/sdk-python#300); leave with the status we decided.
    os._exit(code)


if __name__ == "__main__":
    main()
