"""Content that can never render is refused when it is written (422 naming the field), not
found out at send time: each template is tried against a sample contact, under the same
budget and in the same render processes as a send (activities/rendering.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from activities.rendering import RenderPool
from api.problems import Problem


async def refuse_unrenderable(
    renderer: RenderPool, fields: Mapping[str, str | None], tenant: str = ""
) -> None:
    """`fields` by their request path ("steps.0.body"); raises a 422 listing every one that
    cannot render."""
    wanted = {path: text for path, text in fields.items() if text}
    found = await asyncio.gather(
        *(renderer.problems({path: text}, tenant) for path, text in wanted.items())
    )
    errors = [
        {"field": path, "message": f"template cannot render: {problem}"}
        for problems in found
        for path, problem in problems.items()
    ]
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise Problem(422, "Invalid request", detail, errors=errors)


def step_fields(prefix: str, content: Mapping[str, str | None]) -> dict[str, str | None]:
    return {f"{prefix}{name}": content.get(name) for name in ("subject", "body", "title", "notes")}
