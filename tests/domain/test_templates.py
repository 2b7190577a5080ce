"""Templates under a budget (domain.templates): what a person wrote renders, what could stall a
worker or blow up a message is refused with a detail that says what to edit."""

from __future__ import annotations

import time

import pytest

from domain.failures import FailureCause
from domain.templates import MAX_RENDERED, SAMPLE_CONTEXT, TemplateProblem, render, trial

FINE = [
    ("Hi {{ first_name }}", "Hi Ada"),
    ("{{ first_name|upper }} {{ (first_name ~ '!')|lower }}", "ADA ada!"),
    ("{% for i in range(3) %}{{ loop.index }}{% endfor %}", "123"),
    ("{{ 'ab' * 3 }} {{ 2**10 }}", "ababab 1024"),
    ("{{ '%s'|format(last_name) }}", "Lovelace"),
]


@pytest.mark.parametrize(("template", "expected"), FINE, ids=[t for t, _ in FINE])
def test_ordinary_templates_render(template: str, expected: str) -> None:
    assert render(template, SAMPLE_CONTEXT) == expected
    assert trial(template) is None


REFUSED = {
    "division by zero": ("{{ 1/0 }}", "ZeroDivisionError"),
    "a 10 MB string": ("{{ 'x' * 10**7 }}", "over the budget"),
    "a 100,000-bit number": ("{{ 2**100000 }}", "over the budget"),
    "a billion-number range": ("{{ range(10**9)|list }}", "over the budget"),
    "ten billion loop steps": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "loop steps",
    ),
    "a billion-wide center": ("{{ 'x'|center(10**9) }}", "over the budget"),
    "a billion-wide ljust": ("{{ 'x'.ljust(10**9) }}", "over the budget"),
    "output over the cap": (
        "{% for i in range(300) %}{{ 'y' * 1000 }}{% endfor %}",
        "rendered text is over",
    ),
    "a syntax error": ("{{ first_name ", "TemplateSyntaxError"),
    "a call of an undefined": ("{{ nothing_here() }}", None),
}


@pytest.mark.parametrize(("template", "says"), REFUSED.values(), ids=REFUSED.keys())
def test_what_can_never_render_is_refused_quickly(template: str, says: str | None) -> None:
    started = time.perf_counter()
    problem = trial(template)
    assert time.perf_counter() - started < 1.0
    if says is None:  # an undefined name may be a custom field a real contact has
        assert problem is None
        return
    assert problem is not None and says in problem
    with pytest.raises(TemplateProblem) as raised:
        render(template, SAMPLE_CONTEXT)
    assert raised.value.cause is FailureCause.TEMPLATE_INVALID


def test_a_missing_variable_is_its_own_cause_and_not_refused_at_write_time() -> None:
    assert trial("Hi {{ nickname }}") is None  # a contact may have the custom field
    with pytest.raises(TemplateProblem) as raised:
        render("Hi {{ nickname }}", SAMPLE_CONTEXT)
    assert raised.value.cause is FailureCause.TEMPLATE_VARIABLE_MISSING
    assert "nickname" in raised.value.detail


def test_the_output_cap_is_the_documented_one() -> None:
    exact = "{{ 'z' * " + str(MAX_RENDERED) + " }}"
    assert len(render(exact, SAMPLE_CONTEXT)) == MAX_RENDERED
    with pytest.raises(TemplateProblem):
        render(exact + "!", SAMPLE_CONTEXT)
