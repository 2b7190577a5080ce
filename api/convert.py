"""Translation between HTTP models and workflow payloads (they are versioned separately)."""

from __future__ import annotations

from api.schemas import ScheduleIn, SequenceCreate, SequencePublic, StepOut
from domain import actions, timing
from domain.statuses import RecipientStatus
from store.tables import RecipientRow, SequenceRow
from workflows.models import (
    SendingSchedule,
    SequenceDefinition,
    SequenceSettings,
    StepContent,
    StepDefinition,
)


def definition_from_request(body: SequenceCreate) -> SequenceDefinition:
    return SequenceDefinition(
        name=body.name,
        steps=[
            StepDefinition(
                type=step.type,
                delay=timing.parse_delay(step.delay),
                delay_text=step.delay,
                content=StepContent(
                    subject=step.subject, body=step.body, title=step.title, notes=step.notes
                ),
            )
            for step in body.steps
        ],
        settings=SequenceSettings(
            resume_policy=body.resume_policy,
            stop_on_response=body.stop_on_response,
            schedule=SendingSchedule(**body.schedule.model_dump()) if body.schedule else None,
            sender_id=body.sender_id,
        ),
    )


def sequence_public(row: SequenceRow, counts: dict[str, int]) -> SequencePublic:
    definition = SequenceDefinition.model_validate(row.definition)
    settings = definition.settings
    return SequencePublic(
        id=row.id,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]
        steps=[
            StepOut(
                index=i,
                type=step.type,
                delay=step.delay_text or timing.format_delay(step.delay),
                **step.content.model_dump(),
            )
            for i, step in enumerate(definition.steps)
        ],
        schedule=ScheduleIn(**settings.schedule.model_dump()) if settings.schedule else None,
        resume_policy=settings.resume_policy,
        stop_on_response=settings.stop_on_response,
        sender_id=settings.sender_id,
        counts=counts,
        created_at=row.created_at,
    )


def situation_of(
    row: RecipientRow, definition: SequenceDefinition, sequence_paused: bool
) -> actions.RecipientSituation:
    """What the action table needs, from the store's projection of a recipient."""
    steps = definition.steps
    return actions.RecipientSituation(
        status=RecipientStatus(row.status),
        stop_on_response=definition.settings.stop_on_response,
        steps_left=row.current_step < len(steps),
        sequence_paused=sequence_paused,
        current_step_type=steps[row.current_step].type if row.current_step < len(steps) else None,
    )
