"""RFC 9457 problem+json for every error the API returns: what was wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://seqflow.dev/problems/"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        return {
            "type": _TYPE_BASE + slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


def not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"{what} does not exist in this workspace")


def action_rejected(
    detail: str, status_now: str, allowed_actions: list[str], **extra: Any
) -> Problem:
    return Problem(
        409,
        "Action not allowed",
        detail,
        status_now=status_now,
        allowed_actions=allowed_actions,
        **extra,
    )


def invalid(errors: Sequence[Mapping[str, Any]]) -> Problem:
    """422 from pydantic's errors: each names its field and what is wrong with it."""
    listed = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed)
    return Problem(422, "Invalid request", detail, errors=listed)


def unavailable(detail: str, retry_after: int = 5) -> Problem:
    """503: a dependency (Temporal, the database) did not answer in time; worth a retry."""
    return Problem(
        503, "Temporarily unavailable", detail, headers={"Retry-After": str(retry_after)}
    )


def problem_response(problem: Problem) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else {}
    headers |= problem.headers
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


def _field(loc: tuple[Any, ...]) -> str:
    # FastAPI prefixes where the value came from ("body", "query", "path"); the rest is the field.
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    return ".".join(str(part) for part in parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {401: "Unauthorized", 404: "Not found", 405: "Method not allowed"}
        title = titles.get(exc.status_code, "Error")
        return problem_response(Problem(exc.status_code, title, str(exc.detail)))


_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; a rejected action adds status_now and "
    "allowed_actions, an invalid request lists errors (field, message).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "status_now": {"type": "string"},
        "allowed_actions": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_ANSWERED = {
    "401": "No or unknown API key (or signature, on a provider's endpoint)",
    "404": "Not found in this workspace",
    "409": "Not possible in the current state",
    "422": "Invalid request: what was wrong and what is allowed",
    "503": "A dependency did not answer in time; retry after Retry-After",
}


def document(app: FastAPI) -> None:
    """The OpenAPI says what errors really look like: problem+json, for every operation
    (not FastAPI's default HTTPValidationError, which we never send)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(name, None)
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                for code, description in _ANSWERED.items():
                    responses[code] = {"description": description, "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
