"""Answer times of the three ways to hold many recipients: `python -m bench.holds --n 10000`.

One run, one stack (the same launcher as bench.sequence_pause: a dev server with WAL pragmas,
`python -m worker` as a subprocess, the API in-process on a SQLite store): a sender and one
sequence sending from it, N recipients enrolled and waiting on a 30-day first step (nothing is
sent: what is measured is holding them). Then, in turn:

  * the sequence's pause and resume (POST /v1/sequences/{id}/pause|resume);
  * the sender's vacation and its end (POST /v1/senders/{id}/pause|resume);
  * a bulk pause by filter (`status: in_progress`, reason "bench") and a bulk resume by
    filter (`pause_reason: bench`).

For each: seconds to the API's answer (what a person waits for: the store already shows the
change and the barrier holds), and seconds until every recipient workflow shows it in
visibility (the fan-out's own time, polled every 0.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.sequence_pause import BATCH, Bench, Options, run_to_report, wait_until

DOMAIN = "holds.example.com"


class HoldsBench(Bench):
    async def run(self) -> None:
        n, r = self.opts.n, self.report
        print(f"[bench.holds] N={n} tmp={self.tmp}", flush=True)
        sender = await self._post("/v1/senders", {"name": "Ada", "email": "ada@acme.com"}, 201)
        self.sender_id = sender["id"]
        steps = [
            {"type": "email", "delay": "P30D", "subject": "Hi", "body": "1"},
            {"type": "email", "delay": "P1D", "subject": "Again", "body": "2"},
        ]
        created = await self._post(
            "/v1/sequences",
            {"name": "bench holds", "steps": steps, "sender_id": self.sender_id},
            201,
        )
        sid = self.sid = created["id"]
        started = time.perf_counter()
        enrolled = 0
        for start in range(0, n, BATCH):
            enrolled += await self.enroll(sid, DOMAIN, start, min(BATCH, n - start))
        answered = time.perf_counter() - started
        running = await wait_until(
            self.projected(sid), enrolled, self.opts.timeout(120, 0.1), started
        )
        r.add("enroll N", f"answers {answered:.1f} s · all running in {running.seconds:.1f} s")

        base = f"/v1/sequences/{sid}"
        await measure(self, sid, "sequence pause", f"{base}/pause", None, "paused")
        await measure(self, sid, "sequence resume", f"{base}/resume", None, "in_progress")
        await measure_holds(self, sid, self.sender_id)

    async def _post(self, path: str, body: Any, expect: int) -> dict[str, Any]:
        answer = await self.http.post(path, json=body)
        if answer.status_code != expect:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:500]}")
        return answer.json()  # type: ignore[no-any-return]


async def measure_holds(bench: Bench, sid: str, sender_id: str) -> None:
    """The sender's vacation and a bulk pause by filter, and their ends, on `sid`'s N."""
    bulk = f"/v1/sequences/{sid}/recipients/bulk"
    sender = f"/v1/senders/{sender_id}"
    await measure(bench, sid, "sender pause (vacation)", f"{sender}/pause", {}, "paused")
    await measure(bench, sid, "sender resume", f"{sender}/resume", None, "in_progress")
    by_status = {"action": "pause", "filter": {"status": "in_progress"}, "reason": "bench"}
    await measure(bench, sid, "bulk pause by filter", bulk, by_status, "paused")
    by_reason = {"action": "resume", "filter": {"pause_reason": "bench"}}
    await measure(bench, sid, "bulk resume by filter", bulk, by_reason, "in_progress")


async def measure(bench: Bench, sid: str, what: str, path: str, body: Any, status: str) -> None:
    """One change of all N: its answer, what the store shows then, and when every workflow
    has it (visibility)."""
    n = bench.opts.n
    started = time.perf_counter()
    answer = await bench.http.post(path, json=body)
    answered = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"{what}: {answer.status_code} {answer.text[:500]}")
    listed = await bench.http.get(f"/v1/sequences/{sid}")
    shown = int(listed.json()["counts"].get(status, 0))
    applied = await wait_until(bench.q(sid, status), n, bench.opts.timeout(120, 0.1), started)
    reached = f"{applied.seconds:.1f} s" + ("" if applied.reached else " (timed out)")
    bench.report.add(
        what,
        f"answer {answered * 1000:.0f} ms · store shows {shown}/{n} at once · "
        f"every workflow in {reached}",
    )
    if not applied.reached:
        bench.report.problems.append(f"{what}: {applied.text()}")


async def main_async(opts: Options, command: str) -> int:
    bench = HoldsBench(opts, Path(tempfile.mkdtemp(prefix="seqflow-bench-holds-")))
    return await run_to_report(
        bench, command, "'every workflow has it' is visibility polled every 0.5 s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.holds", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="recipients (default 1000)")
    parser.add_argument("--cache", type=int, default=12000, help="worker max_cached_workflows")
    parser.add_argument("--timeout-scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, dbs)")
    args = parser.parse_args(argv)
    opts = Options(
        n=args.n,
        cache=args.cache,
        sandbox=False,
        cycles=1,
        signal_concurrency=0,
        timeout_scale=args.timeout_scale,
        midsend=False,
        keep=args.keep,
    )
    shown = argv if argv is not None else sys.argv[1:]
    command = " ".join([".venv/bin/python -m bench.holds", *map(shlex.quote, shown)])
    return asyncio.run(main_async(opts, command))


if __name__ == "__main__":
    status = main()
    # A process that used the Temporal client can abort at exit (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
