"""Every Prometheus metric seqflow defines, and the small functions the code records them with.

Nothing else creates a metric: the API, the activities and the worker call the functions below,
docs/observability.md lists each metric with what it tells, and tests/test_compose.py checks
that the Grafana dashboard asks only for names defined here (`SAMPLE_NAMES`, `SDK_METRICS`).

Where they are served:

- the API: `GET /metrics` on its own port (`api/app.py`);
- a worker: seqflow's metrics (this module, prometheus_client) on `worker_metrics_port`, and
  the Temporal SDK's (schedule-to-start latency, slots, sticky cache) on
  `worker_sdk_metrics_port`, served by the SDK's core from the runtime `temporal_runtime`
  makes. Two ports, not product metrics through the SDK's meter: the same product metrics are
  recorded in the API process too (holds, render times), which has no worker runtime, and the
  SDK meter has no scrape-time gauges (`seqflow_fanout_oldest_change_age_seconds`) — one
  library for all of ours, in every process. And not one port proxying the other: nothing
  re-parses the SDK's output, and either side failing does not hide the other.

Label values are bounded: channels, outcomes, hold sources and fan-out kinds are enums; a route
is its template (`/v1/sequences/{sequence_id}/…`, never an id); a workspace is a tenant, and
past `MAX_WORKSPACES` distinct ones a process counts the rest as `_other`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import prometheus_client
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from domain.statuses import HoldSource, StepType
from store.ledger import Claim

prometheus_client.disable_created_metrics()  # no `_created` series beside every counter

MAX_WORKSPACES = 1000
OTHER = "_other"
UNMATCHED_ROUTE = "<unmatched>"  # a path no route serves (scanners): one series, not one each

# The dispatch activity's outcomes; a claim refusal (held, suppressed, sender_capped, …) is
# named as store.ledger.Claim names it.
DISPATCH_OUTCOMES = frozenset(
    {
        "sent",  # handed over to the channel
        "failed",  # the channel refused it for good (a person must act)
        "uncertain",  # it may have gone out (delivery_uncertain)
        "error",  # a transient error: nothing accepted, Temporal retries
        "cancelled",  # a pause halted it before the hand-over
        "invalid",  # it could not be prepared (template, missing address)
        *(claim.value for claim in Claim if claim is not Claim.CLAIMED),
    }
)
FANOUT_CHANGES = frozenset({"state", "content", "sender", "vacations"})

HTTP_REQUEST_SECONDS = Histogram(
    "seqflow_http_request_duration_seconds",
    "API requests: seconds from the request to the end of its answer, by route template",
    ["method", "route", "status"],
)
DISPATCH_ATTEMPTS = Counter(
    "seqflow_dispatch_attempts",
    "Dispatch activity attempts by channel and outcome (outcome=sent: handed over)",
    ["channel", "outcome"],
)
WORKSPACE_SENT = Counter(
    "seqflow_workspace_messages_sent",
    "Messages handed over to a channel, by workspace",
    ["workspace"],
)
HOLDS_APPLIED = Counter(
    "seqflow_holds_applied",
    "Pauses acknowledged, by what holds the recipients (a recipient, its sequence, …)",
    ["source"],
)
HOLDS_RELEASED = Counter(
    "seqflow_holds_released",
    "Resumes acknowledged, by the hold they release",
    ["source"],
)
FANOUT_REACHED = Counter(
    "seqflow_fanout_recipients_reached",
    "Recipients a sequence change's fan-out has reached, by kind of change",
    ["change"],
)
FANOUT_LAG_SECONDS = Histogram(
    "seqflow_fanout_lag_seconds",
    "Seconds from a sequence change's acknowledgement to its fan-out reaching a recipient",
    ["change"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
FANOUT_OLDEST_SECONDS = Gauge(
    "seqflow_fanout_oldest_change_age_seconds",
    "Age of the oldest sequence change this worker is still fanning out (0: none running)",
)
LEDGER_UNCERTAIN = Gauge(
    "seqflow_ledger_uncertain_messages",
    "Deliveries in the ledger whose hand-over is uncertain (read from the store at scrape)",
)
RENDER_SECONDS = Histogram(
    "seqflow_template_render_seconds",
    "Seconds a template render (call=render) or write-time check (call=check) took",
    ["call"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3),
)

ALL: tuple[MetricWrapperBase, ...] = (
    HTTP_REQUEST_SECONDS,
    DISPATCH_ATTEMPTS,
    WORKSPACE_SENT,
    HOLDS_APPLIED,
    HOLDS_RELEASED,
    FANOUT_REACHED,
    FANOUT_LAG_SECONDS,
    FANOUT_OLDEST_SECONDS,
    LEDGER_UNCERTAIN,
    RENDER_SECONDS,
)

_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _samples() -> dict[str, str]:
    return {
        family.name + suffix: family.name
        for metric in ALL
        for family in metric.describe()
        for suffix in _SUFFIXES[family.type]
    }


SAMPLES = _samples()  # every series name a query can ask for → the metric it belongs to
SAMPLE_NAMES = frozenset(SAMPLES)

# The Temporal SDK's metrics the dashboard shows, as the worker's SDK port names them
# (`temporal_runtime`: counters with `_total`, durations in seconds). Each is there once a
# worker has run one workflow task and one activity (tests/e2e/test_observability.py); the
# SDK shows a counter only once it has counted (no cache misses yet: no `…_miss_total`).
SDK_METRICS = frozenset(
    {
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_activity_schedule_to_start_latency_bucket",
        "temporal_workflow_task_replay_latency_bucket",
        "temporal_worker_task_slots_available",
        "temporal_worker_task_slots_used",
        "temporal_sticky_cache_size",
        "temporal_sticky_cache_hit_total",
        "temporal_num_pollers",
    }
)


# ---- recording --------------------------------------------------------------------------------


def http_request(method: str, route: str | None, status: int, seconds: float) -> None:
    method = method if method in _METHODS else OTHER
    HTTP_REQUEST_SECONDS.labels(method, route or UNMATCHED_ROUTE, str(status)).observe(seconds)


def dispatched(channel: StepType | str, outcome: str, workspace: str) -> None:
    """One dispatch attempt's outcome; a message handed over also counts for its workspace."""
    channel = str(channel) if str(channel) in _CHANNELS else OTHER
    DISPATCH_ATTEMPTS.labels(channel, outcome if outcome in DISPATCH_OUTCOMES else OTHER).inc()
    if outcome == "sent":
        WORKSPACE_SENT.labels(_workspace(workspace)).inc()


def hold_applied(source: HoldSource | str) -> None:
    """A pause acknowledged (the workflow, or the sequence workflow, accepted it)."""
    HOLDS_APPLIED.labels(_source(source)).inc()


def hold_released(source: HoldSource | str) -> None:
    """A resume acknowledged."""
    HOLDS_RELEASED.labels(_source(source)).inc()


@contextlib.contextmanager
def rendering(call: str) -> Iterator[None]:
    """Times one render (`render`) or write-time check (`check`), also when it fails."""
    started = time.perf_counter()
    try:
        yield
    finally:
        RENDER_SECONDS.labels(call).observe(time.perf_counter() - started)


class FanOutProgress:
    """A fan-out under way: counts the recipients it reaches and how late."""

    def __init__(self, change: str, acknowledged_at: datetime) -> None:
        self.change = change if change in FANOUT_CHANGES else OTHER
        if acknowledged_at.tzinfo is None:
            acknowledged_at = acknowledged_at.replace(tzinfo=UTC)
        self.acknowledged_at = acknowledged_at

    def reached(self, recipients: int) -> None:
        lag = max(0.0, (datetime.now(UTC) - self.acknowledged_at).total_seconds())
        FANOUT_REACHED.labels(self.change).inc(recipients)
        histogram = FANOUT_LAG_SECONDS.labels(self.change)
        for _ in range(recipients):  # per recipient, so a page of 100 weighs 100
            histogram.observe(lag)


_running_fanouts: dict[int, datetime] = {}
_running_lock = threading.Lock()  # the scrape runs on the metrics server's thread


@contextlib.contextmanager
def fanning_out(change: str, acknowledged_at: datetime) -> Iterator[FanOutProgress]:
    progress = FanOutProgress(change, acknowledged_at)
    with _running_lock:
        _running_fanouts[id(progress)] = progress.acknowledged_at
    try:
        yield progress
    finally:
        with _running_lock:
            del _running_fanouts[id(progress)]


def _oldest_fanout_age() -> float:
    with _running_lock:
        oldest = min(_running_fanouts.values(), default=None)
    if oldest is None:
        return 0.0
    return max(0.0, (datetime.now(UTC) - oldest).total_seconds())


FANOUT_OLDEST_SECONDS.set_function(_oldest_fanout_age)


def ledger_uncertain(count: int) -> None:
    LEDGER_UNCERTAIN.set(count)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CHANNELS = frozenset(str(step) for step in StepType)
_SOURCES = frozenset(str(source) for source in HoldSource)
_workspaces: set[str] = set()


def _workspace(workspace: str) -> str:
    if workspace in _workspaces:
        return workspace
    if len(_workspaces) >= MAX_WORKSPACES:
        return OTHER
    _workspaces.add(workspace)
    return workspace


def _source(source: HoldSource | str) -> str:
    return str(source) if str(source) in _SOURCES else OTHER


# ---- serving ----------------------------------------------------------------------------------


def exposition() -> tuple[bytes, str]:
    """This process's metrics in Prometheus' text format, and its content type."""
    return prometheus_client.generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(port: int | None, host: str) -> None:
    """Serve this process's metrics at http://host:port/metrics (a thread of its own);
    no port: not served."""
    if port:
        prometheus_client.start_http_server(port, addr=host)


def temporal_runtime(sdk_metrics_port: int | None, host: str) -> Runtime:
    """The Temporal runtime of a worker's client: the SDK's metrics on their own port (none:
    not served), and its core's log lines through Python's logging, so they come out in the
    same format as ours (observability/logs.py)."""
    metrics = None
    if sdk_metrics_port:
        metrics = PrometheusConfig(
            bind_address=f"{host}:{sdk_metrics_port}",
            counters_total_suffix=True,  # Prometheus' conventions, like ours
            durations_as_seconds=True,
        )
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=metrics,
        )
    )
