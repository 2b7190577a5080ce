"""Translation between HTTP models and workflow payloads (they are versioned separately)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.schemas import (
    FanOutOut,
    RecipientPublic,
    RecipientRowOut,
    ScheduleIn,
    SequenceCreate,
    SequencePublic,
    StepOut,
)
from domain import actions, calendars, timing
from domain.models import (
    SendingSchedule,
    SequenceDefinition,
    SequenceSettings,
    StepContent,
    StepDefinition,
)
from domain.statuses import HoldSource, RecipientStatus
from store.sequences import definition_of, fan_out_of, status_of
from store.tables import RecipientRow, SequenceRow
from workflows.models import RecipientView


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
                business_days=step.business_days,
            )
            for step in body.steps
        ],
        settings=SequenceSettings(
            resume_policy=body.resume_policy,
            stop_on_response=body.stop_on_response,
            schedule=_schedule(body.schedule),
            sender_id=body.sender_id,
            window_in=body.window_in,
            on_colleague_response=body.on_colleague_response,
            colleague_scope=body.colleague_scope,
        ),
    )


def _schedule(given: ScheduleIn | None) -> SendingSchedule | None:
    """The schedule, its holiday calendars resolved to dates now (domain/calendars.py)."""
    if given is None:
        return None
    days = calendars.holiday_dates(given.holidays, datetime.now(UTC).year)
    return SendingSchedule(**given.model_dump(), holiday_dates=days)


def sequence_public(row: SequenceRow, counts: dict[str, int]) -> SequencePublic:
    definition = definition_of(row)
    settings = definition.settings
    fan_out = fan_out_of(row, recipients_now=sum(counts.values()))
    return SequencePublic(
        id=row.id,
        name=row.name,
        status=status_of(row),
        steps=[
            StepOut(
                index=i,
                type=step.type,
                delay=step.delay_text or timing.format_delay(step.delay),
                business_days=step.business_days,
                **step.content.model_dump(),
            )
            for i, step in enumerate(definition.steps)
        ],
        schedule=(
            ScheduleIn(**settings.schedule.model_dump(exclude={"holiday_dates"}))
            if settings.schedule
            else None
        ),
        resume_policy=settings.resume_policy,
        stop_on_response=settings.stop_on_response,
        sender_id=settings.sender_id,
        window_in=settings.window_in,
        on_colleague_response=settings.on_colleague_response,
        colleague_scope=settings.colleague_scope,
        counts=counts,
        fan_out=(
            FanOutOut(epoch=fan_out.epoch, reached=fan_out.reached, total=fan_out.total)
            if fan_out
            else None
        ),
        created_at=row.created_at,
    )


def situation_of(
    row: RecipientRow, definition: SequenceDefinition, sequence_paused: bool
) -> actions.RecipientSituation:
    """What the action table needs, from the store's projection of a recipient."""
    return actions.RecipientSituation.of(
        RecipientStatus(row.status),
        row.current_step,
        [step.type for step in definition.steps],
        stop_on_response=definition.settings.stop_on_response,
        sequence_paused=sequence_paused,
        # The store keeps the first hold only: enough to know one the sender's resume lifts.
        held_by=[HoldSource.SENDER] if row.pause_source == HoldSource.SENDER.value else None,
    )


def recipient_row_out(
    row: RecipientRow, definition: SequenceDefinition, sequence_paused: bool
) -> RecipientRowOut:
    situation = situation_of(row, definition, sequence_paused)
    return RecipientRowOut(
        id=row.id,
        sequence_id=row.sequence_id,
        contact_id=row.contact_id,
        email=row.email,
        status=row.status,
        current_step=row.current_step,
        next_step_at=row.next_step_at,
        pause_source=row.pause_source,
        pause_reason=row.pause_reason,
        pause_until=row.pause_until,
        allowed_actions=[a.value for a in actions.allowed_actions(situation)],
    )


def recipient_public(view: RecipientView) -> RecipientPublic:
    """The HTTP shape of a workflow's view (a query, an update's answer, or the last view the
    store kept once the workflow ended)."""
    return RecipientPublic.model_validate(view.model_dump())
