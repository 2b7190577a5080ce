"""Schemathesis over the app's own OpenAPI, against a real served API (uvicorn, a worker, the
dev server, SQLite): generated requests never get a server error, and every answer matches
the documented schema. Bounded: a few examples per operation, a couple of minutes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from temporalio.testing import WorkflowEnvironment

from tests.conftest import API_KEY, served_stack

pytestmark = pytest.mark.devserver
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def served_api(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with served_stack(dev_env, tmp_path_factory.mktemp("schemathesis")) as (base, _):
        seed = httpx.post(
            f"{base}/v1/sequences",
            headers=AUTH,
            json={
                "name": "Seed",
                "steps": [{"type": "email", "delay": "P1D", "subject": "Hi", "body": "Hello"}],
            },
        )
        assert seed.status_code == 201, seed.text  # something for generated ids to find
        yield base


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 25  # per operation


def test_generated_requests_get_documented_answers_never_server_errors(served_api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served_api}/openapi.json")
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same cases on every run: a failure is reproducible
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(base_url=served_api, headers=AUTH, timeout=30, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {exc}"[:2000])
    print(f"\nschemathesis: {cases} generated requests over the API, {len(failures)} failing")
    assert cases > 100
    assert not failures, "\n\n".join(failures)
