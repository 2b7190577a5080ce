"""Alembic migrations, run programmatically at API and worker start-up (idempotent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def _ensure_sqlite_dir(database_url: str) -> None:
    if database_url.startswith("sqlite") and ":///" in database_url:
        path = database_url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def upgrade_to_head(database_url: str) -> None:
    _ensure_sqlite_dir(database_url)
    # Alembic's env.py runs its own event loop, so it runs in a thread.
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
