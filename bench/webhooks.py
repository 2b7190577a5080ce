"""Outbound webhooks during a sequence pause: `python -m bench.webhooks [--n 2000]`.

One run starts a Temporal dev server (WAL pragmas), our worker as a subprocess (dev mode: the
receiver is on 127.0.0.1), the API in-process, and a real HTTP receiver, then:

1. enrolls N recipients into a one-step sequence whose step is a day away (nothing is sent);
2. pauses and resumes the sequence twice with no webhook endpoint: the fan-out's own time
   (every recipient workflow paused, then running, in visibility), the second round counted;
3. registers an endpoint that opted in to per-recipient sequence events, pauses again, and
   times the fan-out beside step 2's, and the moment the receiver holds the one
   `sequence.paused` and the N `recipient.status_changed` events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from api.app import create_app
from bench.sequence_pause import Child, dev_server, free_port, visibility, wait_until
from settings import Settings
from store.db import Store
from store.migrate import upgrade_to_head
from workflows.client import connect_client

API_KEY, WORKSPACE, SECRET = "bench-key", "bench", "bench-token-secret-of-32-characters-or-more"
BATCH = 1_000


class Arrivals:
    """A real HTTP receiver: the arrival time of each event type."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        lock = threading.Lock()
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                kind = json.loads(body)["type"]
                with lock:
                    arrivals.times.setdefault(kind, []).append(time.perf_counter())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def count(self, kind: str) -> int:
        return len(self.times.get(kind, []))


async def run(n: int, tmp: Path) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    temporal = dev_server(tmp, port)
    db_url = f"sqlite+aiosqlite:///{tmp}/seqflow.db"
    task_queue = f"bench-hooks-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "SEQFLOW_TEMPORAL_ADDRESS": address,
        "SEQFLOW_TASK_QUEUE": task_queue,
        "SEQFLOW_DATABASE_URL": db_url,
        "SEQFLOW_TOKEN_SECRET": SECRET,
        "SEQFLOW_DEV_MODE": "true",
        "SEQFLOW_OUTBOX_DIR": str(tmp / "outbox"),
        "PYTHONUNBUFFERED": "1",
    }
    worker = Child("worker", [sys.executable, "-m", "worker"], env, tmp / "worker.log", grace=15)
    receiver = Arrivals()
    temporal.start()
    try:
        await upgrade_to_head(db_url)
        store = Store.connect(db_url)
        settings = Settings(
            api_keys=f"{API_KEY}:{WORKSPACE}:bench",
            task_queue=task_queue,
            token_secret=SECRET,
            temporal_address=address,
            database_url=db_url,
            dev_mode=True,
        )
        client = None
        for _ in range(120):
            with contextlib.suppress(Exception):
                client = await connect_client(settings)
                await client.count_workflows('SeqflowStatus="none"')
                break
            await asyncio.sleep(0.5)
        assert client is not None, temporal.tail()
        worker.start()
        await worker.wait_for_output("polling task queue", 90)
        app = create_app(settings, client=client, store=store)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://seqflow.bench",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=600,
        ) as http:
            created = await http.post(
                "/v1/sequences",
                json={
                    "name": "Webhooks bench",
                    "steps": [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "b"}],
                },
            )
            sid = created.json()["id"]
            started = time.perf_counter()
            for first in range(0, n, BATCH):
                people = [
                    {"email": f"p{i}@bench.example.com"}
                    for i in range(first, min(n, first + BATCH))
                ]
                answer = await http.post(
                    f"/v1/sequences/{sid}/recipients", json={"recipients": people}
                )
                assert answer.status_code == 201, answer.text
            query = f'SeqflowSequence="{sid}" AND SeqflowStatus='
            running = visibility(client, query + '"in_progress"')
            paused = visibility(client, query + '"paused"')
            enrolled = await wait_until(running, n, 600, started)

            async def fan_out(action: str, count: object) -> float:
                at = time.perf_counter()
                answer = await http.post(f"/v1/sequences/{sid}/{action}")
                assert answer.status_code == 200, answer.text
                done = await wait_until(count, n, 900, at)  # type: ignore[arg-type]
                assert done.reached, done.text()
                return done.seconds

            # Two rounds without an endpoint: the first warms the worker's cache; the second is
            # the figure, in the same direction (pauses run newest-first) as the one after.
            warm = (await fan_out("pause", paused), await fan_out("resume", running))
            bare_pause = await fan_out("pause", paused)
            bare_resume = await fan_out("resume", running)
            hook = await http.post(
                "/v1/webhooks",
                json={
                    "url": receiver.url,
                    "events": ["recipient.status_changed", "sequence.paused"],
                    "per_recipient_sequence_events": True,
                },
            )
            assert hook.status_code == 201, hook.text
            told_at = time.perf_counter()
            hooked_pause = await fan_out("pause", paused)

            async def per_recipient() -> int:
                return receiver.count("recipient.status_changed")

            delivered = await wait_until(per_recipient, n, 900, told_at)
        print(f"\nwebhooks bench, N = {n} (dev server, 1 worker process, 2 cores)")
        print(f"  enroll {n} and all running                 {enrolled.text()} s")
        print(
            f"  fan-out, no endpoint, 1st: pause / resume  {warm[0]:.2f} s / {warm[1]:.2f} s\n"
            f"  fan-out, no endpoint, 2nd: pause / resume  {bare_pause:.2f} s / {bare_resume:.2f} s"
        )
        print(
            f"  fan-out, endpoint opted in to each: pause  {hooked_pause:.2f} s"
            f"  ({hooked_pause / bare_pause:.2f}x the 2nd pause without)"
        )
        print(f"  sequence.paused events received            {receiver.count('sequence.paused')}")
        rate = n / delivered.seconds if delivered.reached else 0
        print(
            f"  {n} recipient.status_changed received in  {delivered.text()} s"
            f" after the pause's answer ({rate:.0f}/s)"
        )
        await store.close()
    finally:
        worker.stop()
        temporal.stop()
        receiver.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seqflow-bench-hooks-") as tmp:
        asyncio.run(run(args.n, Path(tmp)))
    # A process that used the Temporal client can abort at exit (temporalio/sdk-python#300).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
