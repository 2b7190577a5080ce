"""The product documentation in docs/ stays true to the code.

Each table a reader relies on is parsed from its Markdown and compared with the module that
enforces it: the action-by-status table with domain.actions, the failure causes with
domain.failures, the route list with the app's routes. And the repository carries its own
documentation: nothing in it points outside the repository.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from domain.actions import RecipientSituation, allowed_actions
from domain.failures import FIXES, FailureCause
from domain.statuses import Action, RecipientStatus, StepType
from settings import Settings
from tests.conftest import api_routes

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

ACTION_HEADER = (
    "| status | pause | resume | skip | edit_content | view_content | stop | delete | retry "
    "| exclude | complete_task | send_manual_email |"
)
STATUS_HEADER = "| status | label | meaning | ends the sequence for them |"
ERRORS_HEADER = "| cause | what a person does |"
API_HEADER = "| method | path | does |"

ALLOWED, REFUSED = "✓", "–"
# A qualified cell: allowed exactly when the recipient's current step is of that type.
QUALIFIED = {"✓ task": StepType.TASK, "✓ manual email": StepType.MANUAL_EMAIL}

# What FastAPI serves by itself, and the dev-only routes `make run` adds.
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
DEV_PREFIX = "/dev/"

# Spelled in pieces, so this file does not itself point outside the repository.
FORBIDDEN = ("PRODUCT" + ".md", ".." + "/" + "shared")


# ---- reading Markdown tables ----------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table(document: str, header: str) -> list[list[str]]:
    """The body rows of the one table in docs/`document` whose header row is `header`."""
    lines = (DOCS / document).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == header]
    assert len(starts) == 1, f"docs/{document}: expected one table headed {header!r}"
    width = len(_cells(header))
    rows: list[list[str]] = []
    for line in lines[starts[0] + 2 :]:  # past the header and its |---| line
        if not line.strip().startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == width, f"docs/{document}: {line!r} has {len(cells)} cells"
        rows.append(cells)
    assert rows, f"docs/{document}: the table headed {header!r} is empty"
    return rows


def code(cell: str) -> str:
    """The text of a cell written as `code`."""
    assert cell.startswith("`") and cell.endswith("`") and len(cell) > 2, cell
    return cell[1:-1]


# ---- statuses and actions -------------------------------------------------------------------


def action_cells() -> Iterator[tuple[RecipientStatus, Action, str]]:
    columns = _cells(ACTION_HEADER)[1:]
    for row in table("statuses-and-actions.md", ACTION_HEADER):
        status = RecipientStatus(code(row[0]))
        for column, cell in zip(columns, row[1:], strict=True):
            yield status, Action(column), cell


def allowed(status: RecipientStatus, action: Action, step_type: StepType | None) -> bool:
    situation = RecipientSituation(status=status, current_step_type=step_type)
    return action in allowed_actions(situation)


def test_the_action_table_has_one_row_per_status() -> None:
    rows = [code(row[0]) for row in table("statuses-and-actions.md", ACTION_HEADER)]
    assert sorted(rows) == sorted(s.value for s in RecipientStatus)


def test_every_cell_of_the_action_table_matches_domain_actions() -> None:
    wrong: list[str] = []
    for status, action, cell in action_cells():
        if cell in QUALIFIED:
            # Allowed exactly when the current step is of the named type.
            for step_type in [None, *StepType]:
                expected = step_type is QUALIFIED[cell]
                if allowed(status, action, step_type) != expected:
                    wrong.append(f"{status}/{action}: {cell!r} with a {step_type} step")
            continue
        assert cell in (ALLOWED, REFUSED), f"{status}/{action}: unexpected cell {cell!r}"
        # A plain cell holds whatever the current step is (and with the default situation).
        for step_type in [None, *StepType]:
            if allowed(status, action, step_type) != (cell == ALLOWED):
                wrong.append(f"{status}/{action}: {cell!r} with a {step_type} step")
    assert not wrong, "docs/statuses-and-actions.md disagrees with domain.actions:\n" + "\n".join(
        wrong
    )


def test_every_status_is_described() -> None:
    rows = table("statuses-and-actions.md", STATUS_HEADER)
    assert sorted(code(row[0]) for row in rows) == sorted(s.value for s in RecipientStatus)


# ---- errors ---------------------------------------------------------------------------------


def test_the_errors_table_lists_every_cause_with_its_exact_fix() -> None:
    documented = {code(cause): fix for cause, fix in table("errors.md", ERRORS_HEADER)}
    assert documented == {cause.value: fix for cause, fix in FIXES.items()}
    assert set(documented) == {cause.value for cause in FailureCause}


# ---- the API --------------------------------------------------------------------------------


def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every API route the production app serves, bar FastAPI's own pages
    and the console's (its pages are documented in the README, not as an API)."""
    app = create_app(Settings(dev_mode=False))
    return {
        (method, path)
        for method, path in api_routes(app)
        if path not in FRAMEWORK_PATHS and not path.startswith(DEV_PREFIX)
    }


def test_the_api_table_lists_exactly_the_routes_served() -> None:
    rows = table("api.md", API_HEADER)
    documented = [(code(method), code(path)) for method, path, _ in rows]
    assert len(documented) == len(set(documented)), "a route is listed twice in docs/api.md"
    served = served_routes()
    assert served, "no routes found: the route walk does not understand this FastAPI"
    missing = sorted(served - set(documented))
    stale = sorted(set(documented) - served)
    assert not missing and not stale, f"not in docs/api.md: {missing}; not served: {stale}"


# ---- observability --------------------------------------------------------------------------

METRICS_HEADER = "| metric | type | labels | what on-call reads from it |"
SDK_METRICS_HEADER = "| SDK metric | labels | what on-call reads from it |"
_EXPOSED_SUFFIX = {"counter": "_total", "histogram": "", "gauge": ""}


def _labels(cell: str) -> set[str]:
    return set() if cell == "–" else {code(label.strip()) for label in cell.split(",")}


def test_the_metrics_table_lists_every_metric_with_its_type_and_labels() -> None:
    from observability import metrics

    defined = {
        family.name + _EXPOSED_SUFFIX[family.type]: (family.type, set(metric._labelnames))
        for metric in metrics.ALL
        for family in metric.describe()
    }
    rows = table("observability.md", METRICS_HEADER)
    documented = {code(name): (kind, _labels(labels)) for name, kind, labels, _ in rows}
    assert len(documented) == len(rows), "a metric is listed twice in docs/observability.md"
    assert documented == defined


def test_the_sdk_metrics_table_lists_what_the_dashboard_relies_on() -> None:
    from observability import metrics

    rows = table("observability.md", SDK_METRICS_HEADER)
    documented = {code(name) for name, _, _ in rows}
    assert documented == {name.removesuffix("_bucket") for name in metrics.SDK_METRICS}


# ---- self-contained -------------------------------------------------------------------------


def repository_text_files() -> Iterator[tuple[str, str]]:
    """(path, text) of every tracked text file, and of docs/ even before it is committed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    paths = {p for p in listed.split("\0") if p}
    paths |= {str(p.relative_to(ROOT)) for p in DOCS.rglob("*") if p.is_file()}
    for path in sorted(paths):
        file = ROOT / path
        if not file.is_file():
            continue  # deleted in the working tree
        data = file.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        try:
            yield path, data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # binary


def test_the_repository_points_at_nothing_outside_itself() -> None:
    offenders = [
        f"{path}: {word}"
        for path, text in repository_text_files()
        for word in FORBIDDEN
        if word in text
    ]
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


@pytest.mark.parametrize("document", sorted(p.name for p in DOCS.glob("*.md")))
def test_the_docs_stand_on_their_own(document: str) -> None:
    text = (DOCS / document).read_text(encoding="utf-8")
    for word in (*FORBIDDEN, "the spec"):
        assert word.lower() not in text.lower(), f"docs/{document} mentions {word!r}"
