"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ClientDep, StoreDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(client: ClientDep, store: StoreDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as exc:  # any failure means "not ready", with the reason shown
        checks["temporal"] = f"unreachable: {exc.__class__.__name__}"
    try:
        async with asyncio.timeout(3):
            await store.ping()
        checks["store"] = "ok"
    except Exception as exc:
        checks["store"] = f"unreachable: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)
