"""The store's engine: one async SQLAlchemy engine per process, SQLite (embedded default) or
PostgreSQL, and keyset pagination over ids that sort by creation.

What it holds is split by table family: store/sequences.py, store/recipients.py (and their
projection), store/holds.py (the pause barrier), store/ledger.py, store/accounts.py (the
suppression list and senders), store/inbound.py (webhooks applied). Each is a small class
over a `Store`, like `Sequences(store).get(...)`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers (the API's lists) run while a dispatch writes; NORMAL sync is safe
    with WAL and much faster; the busy timeout makes writers queue instead of failing."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if "_" not in value:
        raise ValueError("cursor is not one this API returned; pass next_cursor as given")
    return value


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str) -> Store:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            # SQLite: one writer; wait for it rather than fail with "database is locked".
            kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def keyset(
        self, query: Any, table: Any, status: str | None, limit: int, cursor: str | None
    ) -> Page:
        """One page in id order (ids sort by creation), filtered by status; `cursor` is the
        opaque next_cursor of the previous page (ValueError if it is not one)."""
        if status:
            query = query.where(table.status == status)
        if cursor:
            query = query.where(table.id > decode_cursor(cursor))
        async with self.sessions() as session:
            rows = list(await session.scalars(query.order_by(table.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1].id) if more and rows else None)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; we store UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
