"""`Idempotency-Key` on a POST: the same key and body answer the first answer (a retry after
a lost response creates nothing twice); the same key with another body is a 422; a retry
while the first is still being answered is a 409 with Retry-After.

Answers and refusals of the request itself (2xx, 4xx) are kept; a 5xx (an outage) is not, so
a retry with the key runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Caller
from api.problems import Problem
from store.db import Store
from store.idempotency import IdempotencyKeys

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces

Produce = Callable[[], Awaitable[tuple[int, BaseModel, dict[str, str]]]]


def _fingerprint(route: str, body: BaseModel) -> str:
    canonical = json.dumps([route, body.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def once(
    store: Store, caller: Caller, key: str | None, route: str, body: BaseModel, produce: Produce
) -> JSONResponse:
    """Answer `produce()` once per key; without a key, every time."""
    if key is None:
        status, answer, headers = await produce()
        return JSONResponse(answer.model_dump(mode="json"), status, headers=headers)
    if not _KEY.fullmatch(key):
        raise Problem(422, "Invalid request", f"{HEADER}: 1 to 200 printable ASCII characters")
    keys = IdempotencyKeys(store)
    fingerprint = _fingerprint(route, body)
    earlier = await keys.claim(caller.workspace, key, fingerprint)
    if earlier is not None:
        return _replay(earlier.fingerprint, fingerprint, earlier.status_code, earlier.answer)
    try:
        status, answer, headers = await produce()
    except Problem as problem:
        if problem.status >= 500:
            await keys.release(caller.workspace, key)
            raise
        await keys.answer(caller.workspace, key, problem.status, {"problem": problem.body()})
        raise
    except BaseException:
        await keys.release(caller.workspace, key)
        raise
    stored = {"body": answer.model_dump(mode="json"), "headers": headers}
    await keys.answer(caller.workspace, key, status, stored)
    return JSONResponse(stored["body"], status, headers=headers)


def _replay(
    first: str, this: str, status: int | None, answer: dict[str, Any] | None
) -> JSONResponse:
    if first != this:
        raise Problem(
            422,
            "Invalid request",
            f"{HEADER}: this key was used for another request; use a new key for this one",
        )
    if status is None or answer is None:
        raise Problem(
            409,
            "Request in progress",
            "the first request with this Idempotency-Key is still being answered; retry shortly",
            headers={"Retry-After": "1"},
        )
    replayed = {"Idempotent-Replayed": "true"}
    if "problem" in answer:
        body = dict(answer["problem"])
        title, detail = body.pop("title"), body.pop("detail")
        body.pop("type", None), body.pop("status", None)
        raise Problem(status, title, detail, headers=replayed, **body)
    return JSONResponse(answer["body"], status, headers={**answer["headers"], **replayed})
