"""Rendering step content over contact fields, under a budget (docs/errors.md, "Templates").

Sandboxed Jinja2 with strict undefined: a missing variable is an error the recipient shows
(cause `template_variable_missing`), never a blank in a sent message. Everything else that
keeps a template from rendering is `template_invalid`, with a detail that says what to edit.

One workspace's template must never cost another workspace anything, so a render is bounded:
- at most `MAX_RENDERED` characters out, per field;
- `range()` and loops over it: at most `MAX_ITERATIONS` steps in one render;
- no number over `MAX_NUMBER_BITS` bits, no string or list over `MAX_RENDERED` items made by
  `*`, and no filter or method asked for a width or count over `MAX_RENDERED`.
Time and memory are bounded by where it runs (activities/rendering.py: a process of its own,
with a deadline and a memory limit), since a loop over a list is not something Jinja lets a
sandbox count. This module is pure and is what that process runs.
"""

from __future__ import annotations

import contextvars
import functools
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from domain.failures import FailureCause

MAX_RENDERED = 256 * 1024
MAX_ITERATIONS = 100_000
MAX_NUMBER_BITS = 4096
# The contact a template is tried against when it is written (custom fields: see trial()).
SAMPLE_CONTEXT: dict[str, Any] = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone": "+442079460000",
    "linkedin_url": "https://www.linkedin.com/in/ada",
}


class TemplateProblem(ValueError):
    def __init__(self, cause: FailureCause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


class _OverBudget(SecurityError):
    pass


_steps: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_steps")


def _count(n: int = 1) -> None:
    steps = _steps.get()
    steps[0] += n
    if steps[0] > MAX_ITERATIONS:
        raise _OverBudget(f"more than {MAX_ITERATIONS:,} loop steps")


def _range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_ITERATIONS:
        raise _OverBudget(f"range() of more than {MAX_ITERATIONS:,} numbers")
    for number in numbers:
        _count()
        yield number


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_RENDERED:
        raise _OverBudget(f"a value of more than {MAX_RENDERED:,} characters or items")
    if isinstance(value, int) and value.bit_length() > MAX_NUMBER_BITS:
        raise _OverBudget(f"a number of more than {MAX_NUMBER_BITS:,} bits")
    return value


def _check_counts(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """A width or a count asked of a filter or a method ("x"|center(10**9))."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_RENDERED:
            raise _OverBudget(f"a width or count over {MAX_RENDERED:,}")


def _guarded(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_function)  # keeps Jinja's pass_context/pass_eval_context marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_counts(args[1:], kwargs)
        return _check_size(filter_function(*args, **kwargs))

    return guarded


class _BudgetedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "<<"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.globals["range"] = _range
        self.filters = {name: _guarded(f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right * max(left.bit_length(), 1) > MAX_NUMBER_BITS:
                raise _OverBudget(f"a number of more than {MAX_NUMBER_BITS:,} bits")
        if operator_name == "<<" and isinstance(right, int) and right > MAX_NUMBER_BITS:
            raise _OverBudget(f"a number of more than {MAX_NUMBER_BITS:,} bits")
        if operator_name == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * times > MAX_RENDERED:
                        raise _OverBudget(f"a value of more than {MAX_RENDERED:,} characters")
        ops = {"*": operator.mul, "**": operator.pow, "<<": operator.lshift}
        return _check_size(ops[operator_name](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_counts(args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))


_ENV = _BudgetedEnvironment()


def render(template: str, context: Mapping[str, Any]) -> str:
    """The rendered text, or TemplateProblem saying what is wrong with the template."""
    token = _steps.set([0])
    try:
        out: list[str] = []
        size = 0
        for chunk in _ENV.from_string(template).generate(**context):
            size += len(chunk)
            if size > MAX_RENDERED:
                raise _OverBudget(f"the rendered text is over {MAX_RENDERED:,} characters")
            out.append(chunk)
        return "".join(out)
    except UndefinedError as exc:
        raise TemplateProblem(FailureCause.TEMPLATE_VARIABLE_MISSING, str(exc)) from exc
    except _OverBudget as exc:
        raise TemplateProblem(FailureCause.TEMPLATE_INVALID, f"over the budget: {exc}") from exc
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateProblem(
            FailureCause.TEMPLATE_INVALID, f"{type(exc).__name__}: {exc}"
        ) from exc
    except (MemoryError, RecursionError) as exc:
        raise TemplateProblem(
            FailureCause.TEMPLATE_INVALID, "over the budget: it needs too much memory"
        ) from exc
    finally:
        _steps.reset(token)


def trial(template: str) -> str | None:
    """Why this template can never render for anyone, or None. Tried against a sample contact;
    a custom field the sample lacks is not an error here (a real contact may have it)."""
    try:
        render(template, SAMPLE_CONTEXT)
    except TemplateProblem as exc:
        if exc.cause is FailureCause.TEMPLATE_VARIABLE_MISSING:
            return None
        return exc.detail
    return None


def check_syntax(template: str) -> str | None:
    """The syntax error of a template, or None (cheap: parsing only)."""
    try:
        _ENV.parse(template)
    except TemplateError as exc:
        return str(exc)
    return None
