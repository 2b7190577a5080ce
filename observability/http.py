"""The API's request observer: a latency histogram by route template and one log line per
request, with the ids its path names.

A pure ASGI middleware: the route (and so its template and path parameters) is known only once
the router has matched it, inside the call, so both are read from the scope afterwards.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.statuses import Action
from observability import logs, metrics

log = logging.getLogger("seqflow.http")

QUIET_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})  # scrapes and probes: no line


# Path parameters whose values are a closed set are named in the route label, so a pause's
# latency is not averaged with a skip's; any other value keeps the template's `{action}`.
NAMED_VALUES = {"action": frozenset(action.url_segment for action in Action)}


def route_label(scope: Scope) -> str | None:
    """The matched route's template (None: no route matched), never a raw path."""
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    params = scope.get("path_params") or {}
    for name, values in NAMED_VALUES.items():
        if params.get(name) in values:
            template = template.replace("{" + name + "}", params[name])
    return template


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer starts: an exception the server turns into a 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                _name_on_span(scope)  # before the answer's end ends the request's span
            await send(message)

        started = time.perf_counter()
        with logs.bound():
            try:
                await self.app(scope, receive, sending)
            finally:
                seconds = time.perf_counter() - started
                route = route_label(scope)
                metrics.http_request(scope["method"], route, status, seconds)
                if scope["path"] not in QUIET_PATHS:
                    ids = _ids(scope)
                    log.log(
                        logging.WARNING if status >= 500 else logging.INFO,
                        "%s %s %d",
                        scope["method"],
                        route or metrics.UNMATCHED_ROUTE,
                        status,
                        extra={
                            "method": scope["method"],
                            "route": route or metrics.UNMATCHED_ROUTE,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 1),
                            **{k: v for k, v in ids.items() if k in logs.IDS},
                        },
                    )


def _ids(scope: Scope) -> dict[str, Any]:
    """The path's ids and those the request noted (its caller's workspace)."""
    return {**dict(scope.get("path_params") or {}), **logs.current()}


def _name_on_span(scope: Scope) -> None:
    """The request's span (tracing on: observability/tracing.py) is named as the metric's
    route is (a pause is not averaged with a skip) and says what it was about, so a trace can
    be found by the recipient or sequence it concerns."""
    span = trace.get_current_span()
    if span.is_recording():
        route = route_label(scope)
        if route is not None:
            span.update_name(f"{scope['method']} {route}")
        ids = _ids(scope)
        span.set_attributes(
            {f"seqflow.{k}": str(v) for k, v in ids.items() if k in logs.IDS and v is not None}
        )
