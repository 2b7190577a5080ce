"""Log lines: one JSON object per event in production, a readable line in `make run`.

Each record carries the ids of what it is about, where known: `workspace`, `sequence_id`,
`recipient_id`, `step`, `workflow_id` (and `activity`, `attempt` inside an activity). They
come from, in this order: what the code bound around the work (`bound`, `note` — the API binds
the caller's workspace and the path's ids, the dispatch activity its step), the running
activity (`temporalio.activity.info()`), and a workflow's own log records (the SDK's
`temporal_workflow` extra). A recipient's workflow id names its workspace, sequence and
recipient (`workflows.contract`), so an activity's lines carry those too. With tracing on
(observability/tracing.py) a line written inside a span also carries its `trace_id`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import IO, Any

import temporalio.activity
import temporalio.workflow
from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

IDS = ("workspace", "sequence_id", "recipient_id", "step", "workflow_id", "activity", "attempt")

# The SDK's own context extras: their content becomes the ids above, not nested objects.
_SDK_EXTRAS = ("temporal_activity", "temporal_workflow", "temporal_log", "color_message")

# One dict per unit of work (a request, an activity); `note` adds to it in place, so what a
# dependency notes in a copied context (a thread, a task) is seen by the request's own lines.
_bound: ContextVar[dict[str, Any] | None] = ContextVar("seqflow_log_ids", default=None)


@contextlib.contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Every record logged inside carries these ids (and those `note` adds later)."""
    token = _bound.set({**(_bound.get() or {}), **_known(ids)})
    try:
        yield
    finally:
        _bound.reset(token)


def note(**ids: Any) -> None:
    """Add ids to the work under way (a no-op outside `bound`)."""
    current = _bound.get()
    if current is not None:
        current.update(_known(ids))


def current() -> dict[str, Any]:
    return dict(_bound.get() or {})


def ids_of_workflow(workflow_id: str) -> dict[str, str]:
    """The ids a workflow id names (the inverse of workflows.contract's ids)."""
    parts = workflow_id.split("/")
    if len(parts) == 3 and parts[1] == "webhooks":  # an endpoint's deliverer
        return {"workspace": parts[0]}
    if len(parts) == 3:
        return {"workspace": parts[0], "sequence_id": parts[1], "recipient_id": parts[2]}
    if len(parts) == 2:
        return {"workspace": parts[0], "sequence_id": parts[1]}
    return {}


class WithIds(logging.Filter):
    """Puts the known ids on each record (never over what the call itself passed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids: dict[str, Any] = {}
        sdk = getattr(record, "temporal_workflow", None) or getattr(
            record, "temporal_activity", None
        )
        if isinstance(sdk, Mapping) and sdk.get("workflow_id"):
            ids |= ids_of_workflow(str(sdk["workflow_id"])) | {"workflow_id": sdk["workflow_id"]}
        if temporalio.activity.in_activity():
            info = temporalio.activity.info()
            if info.workflow_id:
                ids |= ids_of_workflow(info.workflow_id) | {"workflow_id": info.workflow_id}
            ids |= {"activity": info.activity_type, "attempt": info.attempt}
        ids |= _bound.get() or {}
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # tracing is on (observability/tracing.py): the line's trace
            ids["trace_id"] = trace.format_trace_id(span.trace_id)
        for key, value in ids.items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        return True


class Readable(logging.Formatter):
    """`make run`'s lines: time, level, logger, message, then the ids in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={getattr(record, k)}" for k in IDS if hasattr(record, k))
        return f"{line} [{ids}]" if ids else line


def json_formatter(service: str) -> logging.Formatter:
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service},
        reserved_attrs=[*RESERVED_ATTRS, *_SDK_EXTRAS],
        timestamp="time",
    )


def handler(service: str, *, json_lines: bool, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `service`'s records as JSON lines (or readable ones) with their ids."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(json_formatter(service) if json_lines else Readable())
    out.addFilter(WithIds())
    return out


def configure(service: str, *, dev_mode: bool, level: int = logging.INFO) -> None:
    """The process's logging: JSON lines on stderr, readable ones in dev mode (`make run`)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(service, json_lines=not dev_mode))
    root.setLevel(level)
    # The ids are fields of their own: the SDK need not append its context to each message.
    temporalio.activity.logger.activity_info_on_message = False
    temporalio.workflow.logger.workflow_info_on_message = False


def _known(ids: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in ids.items() if key in IDS and value is not None}
