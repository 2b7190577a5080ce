"""Rendering step content over contact fields (docs/errors.md: template causes).

Sandboxed Jinja2 with strict undefined: a missing variable is an error the recipient shows
(cause `template_variable_missing`), never a blank in a sent message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from domain.failures import FailureCause

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class TemplateProblem(ValueError):
    def __init__(self, cause: FailureCause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


def render(template: str, context: Mapping[str, Any]) -> str:
    try:
        return _ENV.from_string(template).render(**context)
    except UndefinedError as exc:
        raise TemplateProblem(FailureCause.TEMPLATE_VARIABLE_MISSING, str(exc)) from exc
    except TemplateError as exc:
        raise TemplateProblem(FailureCause.TEMPLATE_INVALID, str(exc)) from exc


def check_syntax(template: str) -> str | None:
    """The syntax error of a template, or None; used to refuse bad content at the API."""
    try:
        _ENV.parse(template)
    except TemplateError as exc:
        return str(exc)
    return None
