"""Starting recipients straight on Temporal, for workflow tests that need no HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.statuses import RecipientStatus, StepType
from tests.conftest import assert_eventually, terminate_quietly
from workflows.launch import start_recipient
from workflows.models import (
    ActionRequest,
    Contact,
    PauseRequest,
    RecipientInput,
    RecipientView,
    SequenceDefinition,
    SequenceSettings,
    SkipRequest,
    StepContent,
    StepDefinition,
)
from workflows.recipient import RecipientWorkflow


def step(kind: str, delay: timedelta, **content: str) -> StepDefinition:
    content.setdefault("body", f"{kind} body for {{{{ first_name }}}}")
    if kind in ("email", "manual_email"):
        content.setdefault("subject", "Hello {{ first_name }}")
    if kind == "task":
        content.setdefault("title", "Call {{ first_name }}")
    return StepDefinition(type=StepType(kind), delay=delay, content=StepContent(**content))


def sequence(*steps: StepDefinition, **settings: Any) -> SequenceDefinition:
    return SequenceDefinition(name="test", steps=list(steps), settings=SequenceSettings(**settings))


@dataclass
class Harness:
    env: WorkflowEnvironment
    task_queue: str
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(
        self,
        definition: SequenceDefinition,
        contact: Contact | None = None,
        start_at: datetime | None = None,
        history_event_limit: int = 5_000,
        recipient_id: str | None = None,
    ) -> WorkflowHandle[RecipientWorkflow, RecipientView]:
        input = RecipientInput(
            workspace="acme",
            sequence_id="seq_t",
            recipient_id=recipient_id or f"rcp_{uuid.uuid4().hex[:12]}",
            contact_id="con_t",
            contact=contact or Contact(email="ada@example.com", first_name="Ada"),
            definition=definition,
            start_at=start_at,
            history_event_limit=history_event_limit,
        )
        status = RecipientStatus.NOT_STARTED if start_at else RecipientStatus.IN_PROGRESS
        handle = await start_recipient(self.env.client, self.task_queue, input, status)
        self.started.append(handle)
        return handle

    async def terminate_all(self) -> None:
        """Leave no timers behind: the time-skipping server stalls on orphaned workflows."""
        await terminate_quietly(self.started)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance(self, duration: timedelta) -> None:
        await self.env.sleep(duration)

    async def view(self, handle: WorkflowHandle[Any, Any]) -> RecipientView:
        return await handle.query(RecipientWorkflow.view)

    async def until(self, handle: WorkflowHandle[Any, Any], predicate: Any) -> RecipientView:
        async def check() -> RecipientView:
            current = await self.view(handle)
            assert predicate(current), current.model_dump(exclude={"timeline", "contact"})
            return current

        return await assert_eventually(check)  # type: ignore[no-any-return]

    async def pause(self, handle: WorkflowHandle[Any, Any], **kwargs: Any) -> RecipientView:
        return await handle.execute_update(RecipientWorkflow.pause, PauseRequest(**kwargs))

    async def resume(self, handle: WorkflowHandle[Any, Any]) -> RecipientView:
        return await handle.execute_update(RecipientWorkflow.resume, ActionRequest())

    async def skip(
        self, handle: WorkflowHandle[Any, Any], step: int | None = None
    ) -> RecipientView:
        return await handle.execute_update(RecipientWorkflow.skip, SkipRequest(step=step))


def sent_at(view: RecipientView, index: int) -> datetime:
    at = view.steps[index].at
    assert at is not None and view.steps[index].state == "sent", view.steps[index]
    return at


def timeline_at(view: RecipientView, kind: str) -> datetime:
    return [entry.at for entry in view.timeline if entry.kind == kind][-1]
