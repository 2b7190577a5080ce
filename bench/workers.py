"""Throughput with 1 or more workers: `python -m bench.workers --workers 1|3 --n 2000`.

One run, one stack (bench.sequence_pause's launcher: a dev server on a SQLite file with WAL
pragmas, the API in-process on a SQLite store, an SMTP sink), with `--workers` identical
`python -m worker` processes on one task queue. Nothing is killed. Phases:

  1. enroll N recipients through the API (requests of 1,000) into a 2-step email sequence
     (PT0S, then P1D), until every first email arrived and every recipient shows step 2 in
     visibility: enrolled + first-sent per second;
  2. pause, then resume, the sequence (`--cycles` times): from the request until visibility
     shows all N paused (resumed): fan-out recipients per second.

The CPU each process used in each phase (server, all workers, this process: the API and the
SMTP sink) says where the time went: on a small machine the workers share its cores with the
server and the API, so more workers mostly spread the same CPU over more processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.sequence_pause import (
    BATCH,
    MAIN_DOMAIN,
    Bench,
    Child,
    Options,
    run_to_report,
    wait_until,
)


@dataclass
class WorkersOptions(Options):
    workers: int = 1


class WorkersBench(Bench):
    opts: WorkersOptions

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        await super().start(stack)  # the dev server, the first worker, the API, the sink
        self.workers = [self.worker]
        for i in range(2, self.opts.workers + 1):
            more = Child(
                f"worker{i}",
                self.worker.argv,
                self.worker.env,
                self.tmp / f"worker{i}.log",
                grace=self.worker.grace,
            )
            self._spawn(more)
            self.workers.append(more)
        for worker in self.workers[1:]:
            await worker.wait_for_output("polling task queue", 90)

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far: the server, all workers, this process (API, SMTP sink)."""
        me = psutil.Process().cpu_times()
        return (
            self.temporal.cpu(),
            sum(w.cpu() for w in self.workers),
            float(me.user + me.system),
        )

    def cpu_text(self, before: tuple[float, float, float]) -> str:
        now = self.cpu()
        return " / ".join(f"{b - a:.0f}" for a, b in zip(before, now, strict=True))

    async def run(self) -> None:
        o, r = self.opts, self.report
        n = o.n
        print(f"[bench.workers] N={n} workers={o.workers} tmp={self.tmp}", flush=True)
        sid = await self.create_sequence("bench workers")

        cpu0, started = self.cpu(), time.perf_counter()
        for first in range(0, n, BATCH):
            await self.enroll(sid, MAIN_DOMAIN, first, min(BATCH, n - first))
        enroll_s = time.perf_counter() - started
        sent = await wait_until(self.sink.counter(MAIN_DOMAIN), n, o.timeout(120, 0.3), started)
        settled = await wait_until(
            self.q(sid, "in_progress", step=1), n, o.timeout(60, 0.1), started
        )
        for what, wait in (("first emails", sent), ("settled at step 2", settled)):
            if not wait.reached:
                r.problems.append(f"{what}: {wait.text()}")
        r.add("workers", o.workers)
        r.add("enroll: API requests done (s)", enroll_s)
        r.add("enroll + first email: all N sent (s)", sent.text())
        r.add("enroll + first email: rate (recipients/s)", n / sent.seconds)
        r.add("enroll + first email: all N at step 2 (s)", settled.text())
        r.add("enroll + first email: CPU s server / workers / API+sink", self.cpu_text(cpu0))

        fans: dict[str, list[float]] = {"pause": [], "resume": []}
        cpus: dict[str, list[str]] = {"pause": [], "resume": []}
        for cycle in range(o.cycles):
            for action, status, step in (("pause", "paused", None), ("resume", "in_progress", 1)):
                cpu0, t0 = self.cpu(), time.perf_counter()
                await self.change(sid, action)
                fan = await wait_until(self.q(sid, status, step=step), n, o.timeout(60, 0.2), t0)
                if not fan.reached:
                    r.problems.append(f"{action} cycle {cycle + 1}: {fan.text()}")
                fans[action].append(fan.seconds)
                cpus[action].append(self.cpu_text(cpu0))
                print(f"  .. cycle {cycle + 1}: {action} applied to all {fan.text()} s", flush=True)
        for action in ("pause", "resume"):
            median = statistics.median(fans[action])
            r.add(f"{action}: all N applied, median of {o.cycles} (s)", median)
            r.add(f"{action}: fan-out rate (recipients/s)", n / median)
            r.add(f"{action}: CPU s server / workers / API+sink (cycle 1)", cpus[action][0])
        total, unique = self.sink.count(MAIN_DOMAIN), self.sink.unique(MAIN_DOMAIN)
        r.add("emails total / unique (expected N)", f"{total}/{unique}")
        if total != n or unique != n:
            r.problems.append(f"{total} emails to {unique} addresses, expected {n}")
        r.add("workers' RSS peak, sum (MB)", f"{sum(w.peak_rss for w in self.workers) / 2**20:.0f}")


async def main_async(opts: WorkersOptions, command: str) -> int:
    bench = WorkersBench(opts, Path(tempfile.mkdtemp(prefix="seqflow-bench-workers-")))
    return await run_to_report(
        bench,
        command,
        (
            "other work may share them; times are visibility counts polled every 0.5 s (the "
            "SMTP sink's count for the first emails)"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.workers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--n", type=int, default=2000, help="recipients (default 2000)")
    parser.add_argument("--cycles", type=int, default=2, help="pause/resume cycles (default 2)")
    parser.add_argument("--cache", type=int, default=6000, help="each worker's cache")
    parser.add_argument("--timeout-scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, dbs)")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.n < 1 or args.cycles < 1:
        parser.error("--workers, --n and --cycles must be at least 1")
    opts = WorkersOptions(
        n=args.n,
        cache=args.cache,
        sandbox=False,
        cycles=args.cycles,
        signal_concurrency=0,
        timeout_scale=args.timeout_scale,
        midsend=False,
        keep=args.keep,
        workers=args.workers,
    )
    shown = argv if argv is not None else sys.argv[1:]
    command = " ".join([".venv/bin/python -m bench.workers", *map(shlex.quote, shown)])
    return asyncio.run(main_async(opts, command))


if __name__ == "__main__":
    status = main()
    # A process that used the Temporal client can abort at exit (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
