"""Sequence pause/resume at scale, against the raw Temporal floor: `python -m bench.sequence_pause`.

One run starts everything it measures and stops it all at the end:
  * a Temporal dev server (the venv's `temporal` CLI, SQLite file with WAL pragmas, the
    Seqflow search attributes registered), in a temporary directory;
  * our worker as a subprocess (`python -m worker`, its RSS read with psutil) with
    `--cache` cached workflows, and an SMTP sink (aiosmtpd) that notes each message's arrival;
  * the API in-process (FastAPI over httpx.ASGITransport) on a SQLite store file;
  * a raw worker subprocess (`python -m bench.raw_floor`) on its own task queue.

Phases: (1) enroll N recipients through the API (requests of 1,000) into a 2-step email
sequence (PT0S, then P1D) and wait for every first email; (2) the raw floor: start N trivial
workflows, then signal them all, then update them all, at the same concurrency as our fan-out
(which uses updates); ours is compared with the better of the two; (3) ours: pause/resume
the sequence through the API, timing the answer and the moment every recipient workflow shows
the new status in visibility, and counting emails that arrive after the answer; (4) worker RSS;
(5) a pause while first emails are still going out (min(N, 1000) more recipients), then resume:
nothing may arrive after the pause's answer, and every recipient gets exactly one first email.

"Applied" is counted the same way for ours and raw: `count_workflows` on the dev server's
visibility (SeqflowStatus), polled every 0.5 s, so both carry the same polling granularity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from aiosmtpd.controller import Controller
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from activities.pacing import CEILING as FAN_OUT_CEILING
from api.app import create_app
from api.routes.recipients import START_CONCURRENCY
from bench.raw_floor import FLAGGED, WAITING, FlagWorkflow
from settings import Settings
from store.db import Store
from store.migrate import upgrade_to_head
from workflows.client import DATA_CONVERTER
from workflows.contract import (
    SEQUENCE_KEY,
    STATUS_KEY,
    STEP_KEY,
    WORKSPACE_KEY,
    search_attribute_cli_flags,
)

ROOT = Path(__file__).resolve().parents[1]
RAW_KEYS = ("signal:pause", "signal:resume", "update:pause", "update:resume")
BIN = Path(sys.executable).parent
API_KEY, WORKSPACE = "bench-key", "bench"
BATCH = 1_000  # the API's enrollment limit per request
POLL = 0.5  # seconds between visibility counts
MAIN_DOMAIN, MID_DOMAIN = "main.example.com", "mid.example.com"


# ---- processes ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if the bench itself is killed, so nothing is left behind."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    grace: float = 10.0
    proc: subprocess.Popen[bytes] | None = None
    peak_rss: int = 0

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches us; we stop the children in order
                preexec_fn=_die_with_parent,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> int:
        if not self.alive():
            return 0
        assert self.proc is not None
        try:
            value = int(psutil.Process(self.proc.pid).memory_info().rss)
        except psutil.Error:
            return 0
        self.peak_rss = max(self.peak_rss, value)
        return value

    def cpu(self) -> float:
        """CPU seconds (user + system) this child has used so far: where a phase's time went."""
        if not self.alive():
            return 0.0
        assert self.proc is not None
        try:
            times = psutil.Process(self.proc.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join(f"    {line}" for line in text)

    async def wait_for_output(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            with contextlib.suppress(OSError):
                if needle in self.log.read_text(errors="replace"):
                    return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name}: no {needle!r} after {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM to this child's own pid, then SIGKILL after its grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(self.grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(5)


def dev_server(tmp: Path, port: int, *, fairness: bool = False) -> Child:
    """A Temporal dev server on a SQLite file in `tmp`, with the WAL pragmas this 2-core
    machine needs and our search attributes (not started yet); `fairness` turns on the task
    queues' fairness (recipients carry a fairness key per sequence)."""
    return Child(
        "temporal",
        [
            str(BIN / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--db-filename",
            str(tmp / "temporal.db"),
            "--log-level",
            "error",
            "--sqlite-pragma",
            "journal_mode=WAL",
            "--sqlite-pragma",
            "synchronous=NORMAL",
            *search_attribute_cli_flags(),
            *(["--dynamic-config-value", "matching.enableFairness=true"] if fairness else []),
        ],
        dict(os.environ),
        tmp / "temporal.log",
        grace=10,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- SMTP sink ------------------------------------------------------------------------------


@dataclass
class Sink:
    """Counts messages per recipient address with their wall-clock arrival."""

    arrivals: list[tuple[float, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        for rcpt in envelope.rcpt_tos:
            self.arrivals.append((now, rcpt.lower()))  # list.append is atomic under the GIL
        return "250 OK"

    def _of(self, domain: str) -> list[tuple[float, str]]:
        return [(t, r) for t, r in list(self.arrivals) if r.endswith("@" + domain)]

    def count(self, domain: str, after: float | None = None, before: float | None = None) -> int:
        return sum(
            1
            for t, _ in self._of(domain)
            if (after is None or t > after) and (before is None or t <= before)
        )

    def unique(self, domain: str) -> int:
        return len({r for _, r in self._of(domain)})

    def save(self, path: Path) -> None:
        with path.open("w") as out:
            out.write("arrival_unix,recipient\n")
            for t, rcpt in list(self.arrivals):
                out.write(f"{t:.6f},{rcpt}\n")

    def counter(self, domain: str) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            return self.count(domain)

        return count


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class Wait:
    seconds: float
    reached: bool
    seen: int
    target: int

    def text(self) -> str:
        if self.reached:
            return f"{self.seconds:.2f}"
        return f"TIMEOUT {self.seen}/{self.target} @{self.seconds:.0f}s"


async def wait_until(
    count: Callable[[], Awaitable[int]], target: int, timeout: float, started: float
) -> Wait:
    """Poll `count` every POLL seconds until it reaches `target`; elapsed is since `started`."""
    deadline = started + timeout
    while True:
        seen = await count()
        now = time.perf_counter()
        if seen >= target:
            return Wait(now - started, True, seen, target)
        if now > deadline:
            return Wait(now - started, False, seen, target)
        await asyncio.sleep(POLL)


def visibility(client: Client, query: str) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return int((await client.count_workflows(query)).count)

    return count


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with few samples, p95 is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Row:
    metric: str
    ours: str = "-"
    raw: str = "-"
    ratio: str = "-"


@dataclass
class Report:
    n: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, metric: str, ours: object = "-", raw: object = "-", ratio: object = "-") -> None:
        self.rows.append(Row(metric, _fmt(ours), _fmt(raw), _fmt(ratio)))
        print(f"  .. {metric}: ours={_fmt(ours)} raw={_fmt(raw)}", flush=True)

    def print(self, command: str) -> None:
        header = Row("metric", "ours", "raw", "ratio")
        rows = [header, *self.rows]
        w = [max(len(getattr(r, a)) for r in rows) for a in ("metric", "ours", "raw", "ratio")]
        nw = max(len("N"), len(str(self.n)))

        def line(r: Row, n: str) -> str:
            return (
                f"{r.metric:<{w[0]}} | {n:>{nw}} | {r.ours:>{w[1]}} | {r.raw:>{w[2]}}"
                f" | {r.ratio:>{w[3]}}"
            )

        print()
        print(line(header, "N"))
        print("-" * len(line(header, "N")))
        for r in self.rows:
            print(line(r, str(self.n)))
        print()
        print(f"command: {command}")
        for note in self.notes:
            print(f"note: {note}")
        for problem in self.problems:
            print(f"PROBLEM: {problem}")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def ratio(ours: Wait | float, raw: Wait | float) -> str:
    a = ours.seconds if isinstance(ours, Wait) else ours
    b = raw.seconds if isinstance(raw, Wait) else raw
    for w in (ours, raw):
        if isinstance(w, Wait) and not w.reached:
            return "n/a"
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def mb(value: int) -> str:
    return f"{value / 2**20:.0f}"


# ---- the run --------------------------------------------------------------------------------


@dataclass
class Options:
    n: int
    cache: int
    sandbox: bool
    cycles: int
    signal_concurrency: int
    timeout_scale: float
    midsend: bool
    keep: bool
    # "sqlite" (a file in the temp dir, the embedded default) or a PostgreSQL server URL
    # (postgresql+asyncpg://…/any): the run gets a throwaway database on it.
    store: str = "sqlite"

    def timeout(self, base: float, per_recipient: float, count: int | None = None) -> float:
        return (base + per_recipient * (self.n if count is None else count)) * self.timeout_scale


class Bench:
    def __init__(self, opts: Options, tmp: Path) -> None:
        self.opts = opts
        self.tmp = tmp
        self.report = Report(opts.n)
        self.children: list[Child] = []
        self.sink = Sink()
        self.run_id = uuid.uuid4().hex[:8]
        self.task_queue = f"bench-{self.run_id}"
        self.raw_queue = f"bench-raw-{self.run_id}"

    # -- setup --

    async def _store_url(self, stack: contextlib.AsyncExitStack) -> str:
        if self.opts.store == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp}/seqflow.db"
        server = self.opts.store.rsplit("/", 1)[0]
        name = f"seqflow_bench_{self.run_id}"
        admin = await asyncpg.connect(self.opts.store.replace("postgresql+asyncpg", "postgresql"))
        await admin.execute(f'CREATE DATABASE "{name}"')

        async def drop() -> None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

        stack.push_async_callback(drop)
        return f"{server}/{name}"

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        temporal = dev_server(self.tmp, port, fairness=getattr(self.opts, "fairness", False))
        self._spawn(temporal)
        self.temporal = temporal
        self.client = await self._connect(temporal)

        smtp_port = free_port()
        controller = Controller(self.sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        stack.callback(controller.stop)

        self.db_url = await self._store_url(stack)
        await upgrade_to_head(self.db_url)
        self.store = Store.connect(self.db_url)
        stack.push_async_callback(self.store.close)

        env = dict(os.environ)
        env.update(
            SEQFLOW_TEMPORAL_ADDRESS=self.address,
            SEQFLOW_TASK_QUEUE=self.task_queue,
            SEQFLOW_DATABASE_URL=self.db_url,
            SEQFLOW_SMTP_HOST="127.0.0.1",
            SEQFLOW_SMTP_PORT=str(smtp_port),
            SEQFLOW_MAX_CACHED_WORKFLOWS=str(self.opts.cache),
            SEQFLOW_WORKFLOW_SANDBOX=str(self.opts.sandbox).lower(),
            SEQFLOW_API_KEYS=f"{API_KEY}:{WORKSPACE}:bench",
            SEQFLOW_TOKEN_SECRET="bench-token-secret-of-32-characters-or-more",
            SEQFLOW_PUBLIC_URL="http://seqflow.bench",
            SEQFLOW_OUTBOX_DIR=str(self.tmp / "outbox"),
            PYTHONUNBUFFERED="1",
        )
        self.worker = Child(
            "worker", [sys.executable, "-m", "worker"], env, self.tmp / "worker.log", grace=15
        )
        self._spawn(self.worker)
        await self.worker.wait_for_output("polling task queue", 90)

        settings = Settings(
            api_keys=f"{API_KEY}:{WORKSPACE}:bench",
            task_queue=self.task_queue,
            token_secret="bench-token-secret-of-32-characters-or-more",
            temporal_address=self.address,
            database_url=self.db_url,
        )
        app = create_app(settings, client=self.client, store=self.store)
        self.http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://seqflow.bench",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=600,
            )
        )
        self._sampler = asyncio.create_task(self._sample_rss())
        stack.callback(self._sampler.cancel)

    def _spawn(self, child: Child) -> None:
        child.start()
        self.children.append(child)

    async def _connect(self, temporal: Child) -> Client:
        deadline = time.monotonic() + 60
        while True:
            if not temporal.alive():
                raise RuntimeError(f"temporal dev server exited:\n{temporal.tail()}")
            try:
                client = await Client.connect(self.address, data_converter=DATA_CONVERTER)
                # Also proves the custom search attributes are registered.
                await client.count_workflows('SeqflowStatus="none"')
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _sample_rss(self) -> None:
        while True:
            for child in self.children:
                child.rss()
            await asyncio.sleep(0.5)

    def stop_children(self) -> None:
        # Workers first (they finish activities while Temporal still answers), Temporal last.
        for child in sorted(self.children, key=lambda c: c.name == "temporal"):
            try:
                child.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {child.name}: {exc}", file=sys.stderr)

    # -- API helpers --

    async def create_sequence(self, name: str) -> str:
        body = {
            "name": name,
            "steps": [
                {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "1"},
                {"type": "email", "delay": "P1D", "subject": "Again", "body": "2"},
            ],
        }
        response = await self.http.post("/v1/sequences", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    async def enroll(self, sid: str, domain: str, start: int, count: int) -> int:
        people = [
            {"email": f"r{i:06d}@{domain}", "first_name": f"R{i}"}
            for i in range(start, start + count)
        ]
        response = await self.http.post(
            f"/v1/sequences/{sid}/recipients", json={"recipients": people}
        )
        if response.status_code != 201:
            raise RuntimeError(f"enrollment: {response.status_code} {response.text[:500]}")
        body = response.json()
        if body["rejected"]:
            self.report.problems.append(
                f"enrollment rejected {len(body['rejected'])}: {body['rejected'][:3]}"
            )
        return len(body["enrolled"])

    async def change(self, sid: str, action: str) -> tuple[float, float, dict[str, Any]]:
        """POST pause/resume: (seconds to the answer, wall clock at the answer, body)."""
        started = time.perf_counter()
        response = await self.http.post(f"/v1/sequences/{sid}/{action}")
        elapsed = time.perf_counter() - started
        answered = time.time()
        if response.status_code != 200:
            raise RuntimeError(f"{action}: {response.status_code} {response.text[:500]}")
        return elapsed, answered, response.json()

    def projected(self, sid: str) -> Callable[[], Awaitable[int]]:
        """Recipients whose workflow has run and projected itself at least once (visibility
        shows the status the API starts them with before any worker has seen them)."""

        async def count() -> int:
            from sqlalchemy import func, select

            from store.tables import RecipientRow

            async with self.store.sessions() as session:
                query = select(func.count()).where(
                    RecipientRow.sequence_id == sid, RecipientRow.version >= 0
                )
                return int(await session.scalar(query) or 0)

        return count

    def q(self, sid: str, status: str, step: int | None = None) -> Callable[[], Awaitable[int]]:
        query = f'SeqflowSequence="{sid}" AND SeqflowStatus="{status}"'
        if step is not None:
            query += f" AND SeqflowStep={step}"
        return visibility(self.client, query)

    # -- phases --

    async def run(self) -> None:
        o, r = self.opts, self.report
        n = o.n
        print(f"[bench] N={n} cache={o.cache} sandbox={o.sandbox} tmp={self.tmp}", flush=True)

        # 1. enrollment through the API
        self.sid = sid = await self.create_sequence("bench main")
        enrolled = 0
        started = time.perf_counter()
        for start in range(0, n, BATCH):
            enrolled += await self.enroll(sid, MAIN_DOMAIN, start, min(BATCH, n - start))
        enroll_s = time.perf_counter() - started
        if enrolled != n:
            r.problems.append(f"enrolled {enrolled} of {n}")
        errors = self.q(sid, "error")
        mails = self.sink.counter(MAIN_DOMAIN)

        async def sent_or_failed() -> int:
            return await mails() + await errors()

        first = await wait_until(sent_or_failed, n, o.timeout(120, 0.2), started)
        # Settled: each recipient projected "in progress at step 2" after its email, or failed.
        at_step2 = self.q(sid, "in_progress", step=1)

        async def settled_count() -> int:
            return await at_step2() + await errors()

        settled = await wait_until(settled_count, n, o.timeout(60, 0.05), time.perf_counter())
        await asyncio.sleep(2)
        failed = await errors()
        eligible = await at_step2()
        if failed:
            r.problems.append(
                f"{failed} recipient(s) of the main sequence in error after their first step "
                "(no pause involved yet); see the worker log"
            )
        if not settled.reached:
            r.problems.append(f"after first emails, recipients settled: {settled.text()}")
        ours_rss = self.worker.rss()

        # 2. the raw floor
        raw = await self.raw_floor()
        r.add("enroll: time (s)", enroll_s, raw["start_s"], ratio(enroll_s, raw["start_s"]))
        r.add(
            "enroll: rate (recipients/s)",
            n / enroll_s,
            n / raw["start_s"],
            ratio(raw["start_s"], enroll_s),
        )
        r.add("recipients in error before pausing", failed)
        r.add(
            "first step done for all (s)",
            first.text(),
            raw["first"].text(),
            ratio(first, raw["first"]),
        )

        # 3. ours: pause and resume through the API
        acks: dict[str, list[float]] = {"pause": [], "resume": []}
        fans: dict[str, list[Wait]] = {"pause": [], "resume": []}
        shown: list[int] = []
        sends_paused = sends_resumed = 0
        cpu: dict[str, list[float]] = {"pause": [], "resume": []}
        for cycle in range(o.cycles):
            t0, cpu0 = time.perf_counter(), self.cpu_now(self.worker)
            ack, answered, body = await self.change(sid, "pause")
            acks["pause"].append(ack)
            shown.append(int(body["counts"].get("paused", 0)))
            fan = await wait_until(self.q(sid, "paused"), eligible, o.timeout(60, 0.1), t0)
            fans["pause"].append(fan)
            cpu["pause"].append(self.cpu_since(cpu0, self.worker))
            if not fan.reached:
                r.problems.append(f"pause cycle {cycle + 1}: recipients paused {fan.text()}")
            await asyncio.sleep(1)  # a send racing the pause would show up here
            before_resume = time.time()
            sends_paused += self.sink.count(MAIN_DOMAIN, after=answered, before=before_resume)

            t0, cpu0 = time.perf_counter(), self.cpu_now(self.worker)
            ack, answered, body = await self.change(sid, "resume")
            acks["resume"].append(ack)
            fan = await wait_until(at_step2, eligible, o.timeout(60, 0.1), t0)
            fans["resume"].append(fan)
            cpu["resume"].append(self.cpu_since(cpu0, self.worker))
            if not fan.reached:
                r.problems.append(f"resume cycle {cycle + 1}: back in progress {fan.text()}")
            await asyncio.sleep(1)
            sends_resumed += self.sink.count(MAIN_DOMAIN, after=answered)
            print(
                f"  .. cycle {cycle + 1}: pause ack {acks['pause'][-1] * 1000:.0f} ms "
                f"applied {fans['pause'][-1].text()} s; resume ack "
                f"{acks['resume'][-1] * 1000:.0f} ms applied {fans['resume'][-1].text()} s",
                flush=True,
            )

        for action in ("pause", "resume"):
            a = [x * 1000 for x in acks[action]]
            r.add(f"{action}: API answer p50 (ms)", statistics.median(a))
            r.add(f"{action}: API answer p95 (ms)", pct(a, 95))
            ours_ok = [w.seconds for w in fans[action] if w.reached]
            failed = len(fans[action]) - len(ours_ok)
            for label, q in (("p50", 50), ("p95", 95)):
                ours_v = pct(ours_ok, q) if ours_ok else float("nan")
                by_way = {
                    way: pct(ok, q) if ok else float("nan")
                    for way in ("signal", "update")
                    for ok in [[w.seconds for w in raw[f"{way}:{action}"] if w.reached]]
                }
                raw_v = min(by_way.values())  # the better raw floor (nan if one failed)
                rt = f"{ours_v / raw_v:.2f}x" if ours_ok and raw_v > 0 else "n/a"
                ours_txt = f"{ours_v:.2f}" + (f" ({failed} TIMEOUT)" if failed else "")
                r.add(
                    f"{action}: all {len(fans[action])}x applied {label} (s)", ours_txt, raw_v, rt
                )
                if label == "p50":
                    r.add(
                        f"{action}: raw floor p50, by signal / by update (s)",
                        "-",
                        "{signal:.2f} / {update:.2f}".format(**by_way),
                    )
            r.add(
                f"{action}: CPU s, server / worker (cycle 1)",
                "{:.1f} / {:.1f}".format(*cpu[action][0]),
                "sig {:.1f} / {:.1f}".format(*raw[f"signal:{action}_cpu"])
                + ", upd {:.1f} / {:.1f}".format(*raw[f"update:{action}_cpu"]),
            )
            if action == "pause":
                r.add(
                    "pause: store shows paused at answer (min)",
                    f"{min(shown)}/{eligible}" if shown else "-",
                )
                r.add("pause: emails after answer", sends_paused)
            else:
                r.add("resume: emails after answer (none due)", sends_resumed)
        r.add(
            "raw: signal RPCs returned p50 (s)",
            "-",
            statistics.median(raw["rpc"]),
        )
        total, unique = self.sink.count(MAIN_DOMAIN), self.sink.unique(MAIN_DOMAIN)
        r.add("emails total / unique (expected N)", f"{total}/{unique}")
        if total != n or unique != n:
            r.problems.append(f"main sequence: {total} emails to {unique} addresses, expected {n}")
        if sends_paused:
            r.problems.append(f"{sends_paused} emails arrived after a pause was answered")

        # 4. worker memory
        r.add("worker RSS, N waiting (MB)", mb(ours_rss), mb(raw["rss"]))
        r.add("worker RSS peak (MB)", mb(self.worker.peak_rss), mb(raw["peak_rss"]))
        r.add("worker cache limit (workflows)", o.cache, o.cache)
        r.add("workflow sandbox", "on" if o.sandbox else "off", "on" if o.sandbox else "off")
        r.add("temporal dev server RSS peak (MB)", mb(self.temporal.peak_rss))

        # 5. a pause while first emails are going out, then resume
        if o.midsend:
            await self.midsend()

    async def raw_floor(self) -> dict[str, Any]:
        o, n = self.opts, self.opts.n
        raw_worker = Child(
            "raw-worker",
            [
                sys.executable,
                "-m",
                "bench.raw_floor",
                "--address",
                self.address,
                "--task-queue",
                self.raw_queue,
                "--cache",
                str(o.cache),
                *(["--sandbox"] if o.sandbox else []),
            ],
            dict(os.environ, PYTHONUNBUFFERED="1"),
            self.tmp / "raw-worker.log",
            grace=10,
        )
        self._spawn(raw_worker)
        await raw_worker.wait_for_output("raw worker polling", 60)
        group = f"raw-{self.run_id}"
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def start(i: int) -> None:
            async with gate:
                await self.client.start_workflow(
                    FlagWorkflow.run,
                    id=f"{WORKSPACE}-raw/{group}/{i}",
                    task_queue=self.raw_queue,
                    search_attributes=TypedSearchAttributes(
                        [
                            SearchAttributePair(WORKSPACE_KEY, f"{WORKSPACE}-raw"),
                            SearchAttributePair(SEQUENCE_KEY, group),
                            SearchAttributePair(STATUS_KEY, WAITING),
                            SearchAttributePair(STEP_KEY, 0),
                        ]
                    ),
                )

        t0 = time.perf_counter()
        await asyncio.gather(*(start(i) for i in range(n)))
        start_s = time.perf_counter() - t0
        first = await wait_until(
            visibility(self.client, f'SeqflowSequence="{group}" AND SeqflowStep=1'),
            n,
            o.timeout(60, 0.1),
            t0,
        )
        await asyncio.sleep(2)
        rss = raw_worker.rss()

        sgate = asyncio.Semaphore(o.signal_concurrency)

        async def send_one(i: int, value: bool, way: str) -> None:
            async with sgate:
                handle = self.client.get_workflow_handle(f"{WORKSPACE}-raw/{group}/{i}")
                if way == "update":
                    await handle.execute_update(FlagWorkflow.flag_update, value)
                else:
                    await handle.signal(FlagWorkflow.set_flag, value)

        # Both ways a client can reach N workflows: signals, and updates (what our fan-out
        # uses); ours is compared with the better of the two.
        # Each pass goes the opposite way of the one before, as our fan-out does (pauses from
        # the newest down), so both workers' LRU caches are met the same way.
        result: dict[str, Any] = {"start_s": start_s, "first": first, "rpc": []}
        for cycle, way in itertools.product(range(o.cycles), ("signal", "update")):
            for value, action, status in ((True, "pause", FLAGGED), (False, "resume", WAITING)):
                key = f"{way}:{action}"
                order = reversed(range(n)) if value else range(n)
                t0, cpu0 = time.perf_counter(), self.cpu_now(raw_worker)
                await asyncio.gather(*(send_one(i, value, way) for i in order))
                if way == "signal":
                    result["rpc"].append(time.perf_counter() - t0)
                query = f'SeqflowSequence="{group}" AND SeqflowStatus="{status}"'
                wait = await wait_until(visibility(self.client, query), n, o.timeout(60, 0.1), t0)
                result.setdefault(key, []).append(wait)
                if cycle == 0:
                    result[f"{key}_cpu"] = self.cpu_since(cpu0, raw_worker)
                    result.setdefault("windows", {})[key] = (t0, t0 + wait.seconds)
                if not wait.reached:
                    self.report.problems.append(f"raw {key}: {wait.text()}")
                await asyncio.sleep(1)
        print(
            "  .. raw applied (s): "
            + ", ".join(f"{key} {w.text()}" for key in RAW_KEYS for w in result[key]),
            flush=True,
        )
        result["rss"], result["peak_rss"] = rss, raw_worker.peak_rss
        # Idle from here on; stopping it keeps the CPU for ours. Its workflows stay on timers.
        raw_worker.stop()
        return result

    def cpu_now(self, worker: Child) -> tuple[float, float]:
        return self.temporal.cpu(), worker.cpu()

    def cpu_since(self, before: tuple[float, float], worker: Child) -> tuple[float, float]:
        server, work = self.cpu_now(worker)
        return server - before[0], work - before[1]

    async def midsend(self) -> None:
        o, r = self.opts, self.report
        m = min(o.n, BATCH)
        sid = await self.create_sequence("bench mid-send")
        t0 = time.perf_counter()
        enrolling = asyncio.create_task(self.enroll(sid, MID_DOMAIN, 0, m))
        some = await wait_until(self.sink.counter(MID_DOMAIN), m // 4, o.timeout(60, 0.1, m), t0)
        if not some.reached:
            r.problems.append(f"mid-send: first emails never started ({some.text()})")
        ack, answered, _ = await self.change(sid, "pause")
        before = self.sink.count(MID_DOMAIN, before=answered)
        enrolled = await asyncio.wait_for(enrolling, o.timeout(120, 0.5, m))
        paused, failed = self.q(sid, "paused"), self.q(sid, "error")

        async def held_or_failed() -> int:
            return await paused() + await failed()

        # Recipients whose step failed before the pause keep their Error status (§5).
        held = await wait_until(held_or_failed, enrolled, o.timeout(60, 0.2, m), t0)
        await asyncio.sleep(2)
        after = self.sink.count(MID_DOMAIN, after=answered)
        r.add(f"mid-send ({m}): emails before pause answer", f"{before}/{enrolled}")
        r.add(f"mid-send ({m}): pause answer (ms)", ack * 1000)
        r.add(f"mid-send ({m}): all held (s from enroll)", held.text())
        r.add(f"mid-send ({m}): emails after pause answer", after)
        if after:
            late = sorted(t - answered for t in (t for t, _ in self.sink._of(MID_DOMAIN)))
            late = [x for x in late if x > 0]
            r.problems.append(
                f"mid-send: {after} emails arrived after the pause was answered "
                f"(first {late[0] * 1000:.0f} ms, last {late[-1] * 1000:.0f} ms after)"
            )
        if not held.reached:
            counts = {s: await self.q(sid, s)() for s in ("paused", "in_progress", "error")}
            r.problems.append(f"mid-send: held {held.text()}; visibility counts {counts}")

        t1 = time.perf_counter()
        await self.change(sid, "resume")
        at_step2, in_error = self.q(sid, "in_progress", step=1), self.q(sid, "error")

        async def settled_count() -> int:
            return await at_step2() + await in_error()

        done = await wait_until(settled_count, enrolled, o.timeout(60, 0.2, m), t1)
        await asyncio.sleep(2)
        total, unique = self.sink.count(MID_DOMAIN), self.sink.unique(MID_DOMAIN)
        errors = await self.q(sid, "error")()
        r.add(f"mid-send ({m}): after resume, all settled (s)", done.text())
        r.add(f"mid-send ({m}): emails total/unique/expected", f"{total}/{unique}/{enrolled}")
        r.add(f"mid-send ({m}): recipients in error", errors)
        if total != enrolled or unique != enrolled or errors or not done.reached:
            counts = {
                s: await self.q(sid, s)() for s in ("paused", "in_progress", "error", "not_started")
            }
            r.problems.append(
                f"mid-send: {total} emails to {unique} of {enrolled} recipients, "
                f"{errors} in error; visibility counts {counts}"
            )


async def run_to_report(bench: Bench, command: str, how: str) -> int:
    """Start the stack, run `bench.run()`, stop everything and print the report (with the
    machine's load and `how` the figures were taken); 1 if the run failed or found problems.
    The lighter benches (head_of_line, holds, workers) share it."""
    load_before = os.getloadavg()
    code = 0
    try:
        async with contextlib.AsyncExitStack() as stack:
            try:
                await bench.start(stack)
                await bench.run()
            finally:
                await asyncio.to_thread(bench.stop_children)
    except Exception as exc:
        traceback.print_exc()
        bench.report.problems.append(f"run aborted: {type(exc).__name__}: {exc}")
        code = 1
    finally:
        bench.stop_children()
        bench.report.notes.append(
            f"{os.cpu_count()} CPUs, load average before {load_before[0]:.2f} / after "
            f"{os.getloadavg()[0]:.2f}; {how}"
        )
        failed = bool(code or bench.report.problems)
        keep = failed or bench.opts.keep
        bench.report.notes.append(
            f"logs {'kept in ' + str(bench.tmp) if keep else 'removed (--keep keeps them)'}"
        )
        bench.report.print(command)
        if not keep:
            shutil.rmtree(bench.tmp, ignore_errors=True)
    return 1 if failed else 0


async def main_async(opts: Options, command: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="seqflow-bench-"))
    load_before = os.getloadavg()
    bench = Bench(opts, tmp)
    code = 0
    wall = time.perf_counter()
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert main_task is not None

    def on_sigterm() -> None:
        bench.report.problems.append("SIGTERM received: stopping")
        main_task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        async with contextlib.AsyncExitStack() as stack:
            try:
                await bench.start(stack)
                await bench.run()
            finally:
                # Inside the stack: the API and store close after the children are gone.
                await asyncio.to_thread(bench.stop_children)
    except (Exception, asyncio.CancelledError) as exc:
        traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        bench.report.problems.append(
            f"run aborted: {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"
        )
        code = 1
    finally:
        bench.stop_children()
        total = time.perf_counter() - wall
        bench.report.notes += [
            f"{os.cpu_count()} CPUs ({platform.machine()}), load average before "
            f"{load_before[0]:.2f} / after {os.getloadavg()[0]:.2f}; other work may share them",
            f"ours = API + worker subprocess (python -m worker, store "
            f"projection); raw = bench.raw_floor worker subprocess; starts at concurrency "
            f"{START_CONCURRENCY}, raw signals/updates at {opts.signal_concurrency} (our "
            f"fan-out activity sends updates, at most {FAN_OUT_CEILING} at a time)",
            f"applied = visibility count_workflows polled every {POLL} s, from the request "
            f"(ours) or the first signal/update (raw); {opts.cycles} cycle(s), p95 is nearest-rank",
        ]
        with contextlib.suppress(OSError):
            bench.sink.save(tmp / "smtp-arrivals.csv")
        failed = bool(code or bench.report.problems)
        keep = opts.keep or failed
        bench.report.notes.append(
            f"whole run {total:.0f} s; logs and databases "
            + (f"kept in {tmp}" if keep else "removed (--keep keeps them)")
        )
        bench.report.print(command)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sequence_pause", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=1000, help="recipients (default 1000)")
    parser.add_argument(
        "--cache", type=int, default=6000, help="worker max_cached_workflows (both workers)"
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="run both workers' workflows in the sandbox"
    )
    parser.add_argument(
        "--cycles", type=int, default=None, help="pause/resume cycles (default 3, 1 above 2000)"
    )
    parser.add_argument(
        "--signal-concurrency",
        type=int,
        default=FAN_OUT_CEILING,
        help=f"raw floor: concurrent signals (default {FAN_OUT_CEILING}, our fan-out's ceiling)",
    )
    parser.add_argument(
        "--timeout-scale", type=float, default=1.0, help="multiply every wait's timeout"
    )
    parser.add_argument("--no-midsend", action="store_true", help="skip the mid-send pause")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, dbs)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return Options(
        n=args.n,
        cache=args.cache,
        sandbox=args.sandbox,
        cycles=args.cycles or (3 if args.n <= 2000 else 1),
        signal_concurrency=args.signal_concurrency,
        timeout_scale=args.timeout_scale,
        midsend=not args.no_midsend,
        keep=args.keep,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    shown = argv if argv is not None else sys.argv[1:]
    command = " ".join([".venv/bin/python -m bench.sequence_pause", *map(shlex.quote, shown)])
    return asyncio.run(main_async(opts, command))


if __name__ == "__main__":
    status = main()
    # A process that used the Temporal client can abort at exit (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
