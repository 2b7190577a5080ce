"""Head of line: a person's single action while another sequence's pause fans out to N
recipients: `python -m bench.head_of_line --n 2000 [--fairness]`.

One run, one stack (bench.sequence_pause's launcher: dev server with WAL pragmas, `python -m
worker` subprocess, the API in-process on SQLite). A big sequence gets N recipients waiting on
a 30-day step (nothing is sent); a small one gets a few. Then:

  1. idle: pause/resume one of the small sequence's recipients, one request at a time;
  2. during: the big sequence is paused (and later resumed) and, while its fan-out runs, the
     same single actions go on; their latency is compared with idle, and the fan-out's own
     time (until visibility shows all N) is printed;
  3. the raw Temporal floor for the same N (bench.raw_floor: N trivial workflows updated and
     signalled at our fan-out's ceiling), so ours/raw is from the same run. The clicks go on
     meanwhile: the report also says what a fan-out at the floor's pace costs a click.

`--store URL` puts our store on PostgreSQL (a throwaway database on that server).

`--fairness` starts the dev server with matching.enableFairness=true (recipients always carry
a fairness key, their sequence: workflows/launch.recipient_priority).
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

from bench.holds import measure_holds
from bench.sequence_pause import BATCH, Bench, Options, pct, run_to_report, wait_until

BIG, SMALL = "big.example.com", "small.example.com"
SMALL_N = 10
IDLE_ACTIONS = 60


@dataclass
class HolOptions(Options):
    fairness: bool = False
    holds: bool = False
    # A person clicks now and then; back to back (0) the probe itself loads the server, and a
    # paced fan-out yields to it as it would to a crowd.
    action_interval: float = 0.25


class HeadOfLine(Bench):
    async def run(self) -> None:
        o, r = self.opts, self.report
        n = o.n
        print(f"[bench.head_of_line] N={n} fairness={o.fairness} tmp={self.tmp}", flush=True)
        steps = [
            {"type": "email", "delay": "P30D", "subject": "Hi", "body": "1"},
            {"type": "email", "delay": "P1D", "subject": "Again", "body": "2"},
        ]
        sender = await self.http.post("/v1/senders", json={"name": "Big", "email": "b@acme.com"})
        sender.raise_for_status()
        self.sender_id = sender.json()["id"]
        big = await self._sequence("big", steps, self.sender_id)
        small = await self._sequence("small", steps)
        started = time.perf_counter()
        for start in range(0, n, BATCH):
            await self.enroll(big, BIG, start, min(BATCH, n - start))
        await self.enroll(small, SMALL, 0, SMALL_N)
        running = await wait_until(self.projected(big), n, o.timeout(120, 0.1), started)
        await wait_until(self.projected(small), SMALL_N, 60, time.perf_counter())
        r.add("enroll N: every workflow started (s)", running.seconds)
        listed = await self.http.get(f"/v1/sequences/{small}/recipients", params={"limit": 50})
        self.people = [row["id"] for row in listed.json()["items"]]
        self.small = small
        await asyncio.sleep(3)  # let the worker's projections and caches settle

        self.actions = 0
        self.clicks: list[tuple[float, float]] = []
        idle = [await self._one_action() for _ in range(IDLE_ACTIONS)]
        fans: dict[str, float] = {}
        answers: dict[str, float] = {}
        during: list[float] = []
        for action, status in (("pause", "paused"), ("resume", "in_progress")):
            t0 = time.perf_counter()
            answer = await self.http.post(f"/v1/sequences/{big}/{action}")
            answers[action] = time.perf_counter() - t0
            answer.raise_for_status()
            done = asyncio.create_task(wait_until(self.q(big, status), n, o.timeout(120, 0.1), t0))
            while not done.done():
                during.append(await self._one_action())
            wait = await done
            fans[action] = wait.seconds
            if not wait.reached:
                r.problems.append(f"big sequence {action}: {wait.text()}")
            await asyncio.sleep(2)

        if o.holds:
            # The other two ways to hold all N, on the same stack: answers and fan-outs.
            await measure_holds(self, big, self.sender_id)

        # The same clicks while the raw floor reaches its N trivial workflows at its own pace:
        # what any fan-out that fast costs a click on this server, whoever sends it.
        self.clicks.clear()
        probing = asyncio.create_task(self._click_on())
        try:
            raw = await self.raw_floor()
        finally:
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing
        windows = [raw["windows"][f"update:{action}"] for action in ("pause", "resume")]
        during_raw = [e for t, e in self.clicks if any(a <= t <= b for a, b in windows)]
        for label, values in (
            ("idle", idle),
            ("during the fan-out", during),
            ("during the raw floor's update fan-out", during_raw),
        ):
            ms = [v * 1000 for v in values]
            r.add(
                f"single action {label}: p50 / p95 (ms), {len(ms)} requests",
                f"{statistics.median(ms):.0f} / {pct(ms, 95):.0f}",
            )
        ratio_p95 = pct(during, 95) / pct(idle, 95)
        r.add("single action p95 during / idle", f"{ratio_p95:.2f}x (target <= 2x)")
        if during_raw:
            ratio_raw = pct(during_raw, 95) / pct(idle, 95)
            r.add("single action p95 during the raw floor's / idle", f"{ratio_raw:.2f}x")
        for action in ("pause", "resume"):
            floor = min(
                statistics.median([w.seconds for w in raw[f"{way}:{action}"]])
                for way in ("signal", "update")
            )
            r.add(f"sequence {action}: API answer (ms)", f"{answers[action] * 1000:.0f}")
            r.add(
                f"{action} fan-out to all N (s)",
                fans[action],
                floor,
                f"{fans[action] / floor:.2f}x (target <= 1.35x)",
            )

    async def _sequence(self, name: str, steps: list[dict], sender_id: str | None = None) -> str:
        body = {"name": name, "steps": steps, "sender_id": sender_id}
        answer = await self.http.post("/v1/sequences", json=body)
        answer.raise_for_status()
        return str(answer.json()["id"])

    async def _click_on(self) -> None:
        while True:
            await self._one_action()

    async def _one_action(self) -> float:
        """Pause, then resume, the small sequence's recipients in turn: what a person does.
        Each is also kept in `clicks` with its start."""
        i, self.actions = self.actions, self.actions + 1
        rid = self.people[(i // 2) % len(self.people)]
        action = "pause" if i % 2 == 0 else "resume"
        t0 = time.perf_counter()
        answer = await self.http.post(f"/v1/sequences/{self.small}/recipients/{rid}/{action}")
        elapsed = time.perf_counter() - t0
        self.clicks.append((t0, elapsed))
        if answer.status_code != 200:
            self.report.problems.append(f"{action} {rid}: {answer.status_code} {answer.text}")
        await asyncio.sleep(max(0.0, self.opts.action_interval - elapsed))
        return elapsed


async def main_async(opts: HolOptions, command: str) -> int:
    bench = HeadOfLine(opts, Path(tempfile.mkdtemp(prefix="seqflow-bench-hol-")))
    return await run_to_report(
        bench,
        command,
        (
            f"store {opts.store.split('+')[0]}; fairness {'on' if opts.fairness else 'off'}; "
            f"single actions one every "
            f"{opts.action_interval:g} s (idle and during); our fan-out's ceiling "
            f"{os.environ.get('SEQFLOW_FAN_OUT_CONCURRENCY', 'default')} and latency tolerance "
            f"{os.environ.get('SEQFLOW_FAN_OUT_LATENCY_TOLERANCE', 'default')}, raw "
            f"{opts.signal_concurrency}; fan-out times are visibility polled every 0.5 s; "
            "raw = the better of signal/update"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.head_of_line", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="recipients of the big sequence")
    parser.add_argument("--fairness", action="store_true", help="server-side task fairness")
    parser.add_argument(
        "--holds",
        action="store_true",
        help="also the sender's vacation and bulk by filter on the big sequence (bench.holds)",
    )
    parser.add_argument("--cache", type=int, default=12000, help="worker max_cached_workflows")
    parser.add_argument(
        "--fan-out-concurrency",
        type=int,
        default=None,
        help="our fan-out's ceiling (settings.fan_out_concurrency); the raw floor keeps 24",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="our fan-out's latency tolerance (settings.fan_out_latency_tolerance)",
    )
    parser.add_argument(
        "--action-interval",
        type=float,
        default=0.25,
        help="seconds from one single action's start to the next (0: back to back)",
    )
    parser.add_argument(
        "--store",
        default="sqlite",
        help='our store: "sqlite" (a file, the default) or a PostgreSQL URL, '
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test (a throwaway database on that server)",
    )
    parser.add_argument("--timeout-scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, dbs)")
    args = parser.parse_args(argv)
    from activities.pacing import CEILING

    if args.tolerance:
        os.environ["SEQFLOW_FAN_OUT_LATENCY_TOLERANCE"] = str(args.tolerance)
    if args.fan_out_concurrency:
        os.environ["SEQFLOW_FAN_OUT_CONCURRENCY"] = str(args.fan_out_concurrency)
    opts = HolOptions(
        n=args.n,
        cache=args.cache,
        sandbox=False,
        cycles=1,
        signal_concurrency=CEILING,
        timeout_scale=args.timeout_scale,
        midsend=False,
        keep=args.keep,
        fairness=args.fairness,
        holds=args.holds,
        action_interval=args.action_interval,
        store=args.store,
    )
    shown = argv if argv is not None else sys.argv[1:]
    command = " ".join([".venv/bin/python -m bench.head_of_line", *map(shlex.quote, shown)])
    return asyncio.run(main_async(opts, command))


if __name__ == "__main__":
    status = main()
    # A process that used the Temporal client can abort at exit (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
