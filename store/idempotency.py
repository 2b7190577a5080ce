"""Idempotency keys: a retried POST gets the first answer instead of doing it twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from store.db import Store
from store.tables import IdempotencyRow


@dataclass(frozen=True)
class Earlier:
    fingerprint: str
    status_code: int | None  # None: still being answered
    answer: dict[str, Any] | None


class IdempotencyKeys:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(self, workspace: str, key: str, fingerprint: str) -> Earlier | None:
        """None if this request is the first with the key (it is now reserved), else what the
        first one was."""
        try:
            async with self.store.sessions.begin() as session:
                session.add(IdempotencyRow(workspace=workspace, key=key, fingerprint=fingerprint))
            return None
        except IntegrityError:
            async with self.store.sessions() as session:
                row = await session.scalar(
                    select(IdempotencyRow).where(
                        IdempotencyRow.workspace == workspace, IdempotencyRow.key == key
                    )
                )
            if row is None:  # released meanwhile: try once more
                return await self.claim(workspace, key, fingerprint)
            return Earlier(row.fingerprint, row.status_code, row.answer)

    async def answer(self, workspace: str, key: str, status_code: int, answer: Any) -> None:
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(IdempotencyRow)
                .where(IdempotencyRow.workspace == workspace, IdempotencyRow.key == key)
                .values(status_code=status_code, answer=answer)
            )

    async def release(self, workspace: str, key: str) -> None:
        """The first request failed on our side: a retry with the key may run again."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                delete(IdempotencyRow).where(
                    IdempotencyRow.workspace == workspace, IdempotencyRow.key == key
                )
            )
