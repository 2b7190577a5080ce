"""Server time to render the console's recipients page of a 10,000-recipient sequence:
`python -m bench.console_pages [--n 10000] [--runs 40]`.

Prints p50/p95 for the first page, a status-filtered page, a deep page (after 90 % of the
recipients) and a search, beside the floor: the same store query alone, without rendering.
The page needs no Temporal call (it is the store's projection), so none is made.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

import httpx

from api.app import create_app
from console import session as sessions
from domain.models import SequenceDefinition, StepContent, StepDefinition
from domain.statuses import HoldSource, RecipientStatus, StepType
from settings import Settings
from store.db import Store, encode_cursor
from store.migrate import upgrade_to_head
from store.recipients import NewContact, Projected, Recipients
from store.sequences import Sequences

KEY = "bench-console-key"
SECRET = "bench-token-secret-of-32-characters-or-more"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


async def run(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade_to_head(url)
        store = Store.connect(url)
        definition = SequenceDefinition(
            name="Bench",
            steps=[
                StepDefinition(
                    type=StepType.EMAIL, delay=0, content=StepContent(subject="Hi", body="x")
                )
            ]
            * 3,
        )
        sid = "seq_bench"
        await Sequences(store).create("acme", sid, definition)
        recipients = Recipients(store)
        ids: list[str] = []
        for start in range(0, n, 1000):
            people = [
                NewContact(email=f"p{i}@example.com", first_name=f"P{i}", last_name="Bench")
                for i in range(start, min(start + 1000, n))
            ]
            enrolled, _ = await recipients.enroll("acme", sid, people, RecipientStatus.IN_PROGRESS)
            ids += [e.recipient_id for e in enrolled]
        # A tenth paused, so the filtered page has something to find all the way through.
        await recipients.project(
            [
                Projected(rid, 1, RecipientStatus.PAUSED, 1, None, HoldSource.RECIPIENT)
                for rid in ids[::10]
            ]
        )
        settings = Settings(api_keys=f"{KEY}:acme:bench", token_secret=SECRET)
        app = create_app(settings)
        app.state.store, app.state.client = store, None  # the page asks the store only
        session = sessions.sign_in(settings, KEY)
        assert session is not None
        cookies = {sessions.COOKIE: sessions.encode(settings, session)}
        deep = encode_cursor(ids[int(n * 0.9)])
        pages = {
            "first page": f"/sequences/{sid}",
            "status=paused": f"/sequences/{sid}?status=paused",
            "deep page (90 %)": f"/sequences/{sid}?cursor={deep}",
            "search q=p9999": f"/sequences/{sid}?q=p9999",
        }
        floors = {
            "first page": dict(status=None, cursor=None),
            "status=paused": dict(status=RecipientStatus.PAUSED, cursor=None),
            "deep page (90 %)": dict(status=None, cursor=deep),
            "search q=p9999": dict(status=None, cursor=None, search="p9999"),
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies=cookies
        ) as http:
            print(f"console recipients page, {n:,} recipients, {runs} runs each (SQLite)")
            print(f"{'page':<20}{'p50 ms':>9}{'p95 ms':>9}   {'floor p50':>9}{'floor p95':>10}")
            for label, path in pages.items():

                async def get(path: str = path) -> None:
                    response = await http.get(path)
                    assert response.status_code == 200, response.text[:300]

                async def floor(kw: dict[str, object] = floors[label]) -> None:
                    page = await recipients.page("acme", sid, limit=50, **kw)  # type: ignore[arg-type]
                    await recipients.contacts_of(page.items)

                p50, p95 = await timed(runs, get)
                f50, f95 = await timed(runs, floor)
                print(f"{label:<20}{p50:>9.1f}{p95:>9.1f}   {f50:>9.1f}{f95:>10.1f}")
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args(argv)
    asyncio.run(run(args.n, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
