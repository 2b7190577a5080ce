"""The one place a Temporal client is created: API, worker, devstack and benchmarks use it."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from settings import Settings

DATA_CONVERTER = pydantic_data_converter


async def connect_client(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """`runtime`: the SDK runtime the client (and a worker on it) runs in — a worker's
    serves the SDK's metrics (observability/metrics.py); None: the SDK's default.
    `interceptors`: the process's tracing (`observability.tracing.interceptors`); a worker
    built on this client uses those that intercept workers too, so none is given twice."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        runtime=runtime,
        interceptors=interceptors,
    )
