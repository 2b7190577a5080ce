"""Traces (OpenTelemetry), exported over OTLP/HTTP: one API request and what it led to in
Temporal, the workflows and their activities (docs/observability.md, "Tracing").

Off unless `SEQFLOW_OTLP_ENDPOINT` is set: `configure` then answers None and nothing of
OpenTelemetry's SDK is even imported — no tracer provider, no Temporal interceptor, no request
spans (FastAPI is told to record nothing), so tracing that is off costs nothing.

On, each process (the API, every worker) has a `Tracing` of its own:

- a tracer provider whose spans go in batches to the endpoint, as service `seqflow-api` or
  `seqflow-worker` (the SDK's own `OTEL_*` variables still apply: `OTEL_TRACES_SAMPLER` and
  `OTEL_TRACES_SAMPLER_ARG` to sample, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` for a token,
  `OTEL_RESOURCE_ATTRIBUTES` for more attributes);
- the Temporal SDK's integration, `temporalio.contrib.opentelemetry.TracingInterceptor`, on the
  one client the process makes (`workflows.client.connect_client`): its calls are CLIENT spans
  whose context travels in the Temporal headers, and a worker on that client runs workflows and
  activities under the context they were started with (the workflow sandbox passes
  `opentelemetry` through, worker.py);
- in the API, FastAPI's own OpenTelemetry support (`FastAPI(telemetry=…)`, `api_telemetry`):
  each request is a SERVER span named by its method and route template, and the Temporal calls
  made while answering it are its children.

The provider is the process's own, handed to each user, not OpenTelemetry's global one: a
process (a test run) may configure more than one, and the global can be set only once.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from fastapi.telemetry import TelemetryConfig

from observability.http import QUIET_PATHS
from settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.client import Interceptor

# FastAPI records nothing of its own when tracing is off (not even with a global provider).
OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def not_traced(scope: MutableMapping[str, Any]) -> bool:
    """Prometheus' scrapes, the probes and the console's static files: no span."""
    path = str(scope.get("path", ""))
    return path in QUIET_PATHS or path.startswith("/static/")


class Tracing:
    """One process's tracing: its provider, the Temporal interceptor, the API's request spans."""

    def __init__(self, provider: TracerProvider) -> None:
        from temporalio.contrib.opentelemetry import TracingInterceptor

        self.provider = provider
        self._interceptor = TracingInterceptor(provider.get_tracer("seqflow"))

    def interceptors(self) -> list[Interceptor]:
        """For `connect_client`: the client's calls are traced, and so is a worker on it."""
        return [self._interceptor]

    def fastapi(self) -> TelemetryConfig:
        """For `FastAPI(telemetry=…)`: each request a SERVER span ("POST /v1/sequences/
        {sequence_id}/pause"), parent of the Temporal calls made while answering it. Spans
        only: the API's metrics are Prometheus' (observability/metrics.py), its logs ours."""
        return {
            "tracer_provider": self.provider,
            "tracing": True,
            "metrics": False,
            "logs": False,
            "operation_spans": False,  # a span per dependency and serialization: noise
            "exclude": not_traced,
        }

    def flush(self, timeout_millis: int = 10_000) -> bool:
        """Export every span ended so far (the batch exporter sends every few seconds)."""
        return bool(self.provider.force_flush(timeout_millis))

    def shutdown(self) -> None:
        """At the process's end: what is still batched is exported."""
        self.provider.shutdown()


def configure(service: str, settings: Settings) -> Tracing | None:
    """`service`'s tracing (`api`, `worker`) as the settings say; None when it is off."""
    if not settings.otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: f"seqflow-{service}"})
    provider = TracerProvider(resource=resource, shutdown_on_exit=True)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(settings.otlp_endpoint)))
    return Tracing(provider)


def interceptors(tracing: Tracing | None) -> list[Interceptor]:
    """The client interceptors a process's tracing asks for (none when it is off)."""
    return tracing.interceptors() if tracing is not None else []


def api_telemetry(tracing: Tracing | None) -> TelemetryConfig:
    """What the API's FastAPI records: its requests' spans when tracing is on, else nothing."""
    return tracing.fastapi() if tracing is not None else OFF
