"""Recipients of a sequence: enroll, list, read, act on, edit content, delete."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ValidationError

from api import idempotency
from api import recipient_calls as calls
from api.convert import recipient_public, recipient_row_out
from api.deps import CallerDep, ClientDep, RendererDep, SettingsDep, StoreDep
from api.problems import Problem, invalid, not_found
from api.schemas import (
    ContentEdit,
    ContentPanel,
    EmptyBody,
    EnrolledOut,
    EnrollRequest,
    EnrollResponse,
    PauseBody,
    RecipientPage,
    RecipientPublic,
    RejectedOut,
    SendManualEmailBody,
    SkipBody,
    StepContentOut,
)
from api.sequence_calls import sequence_row
from api.template_checks import refuse_unrenderable, step_fields
from api.temporal_errors import DEADLINE, is_outage, outage
from domain.models import Contact, StepContent
from domain.statuses import Action, HoldSource, RecipientStatus, SequenceStatus
from store.accounts import Accounts
from store.recipients import Enrolled, NewContact, RecipientFilter, Recipients, Rejected
from store.sequences import definition_of, status_of
from store.tables import RecipientRow
from workflows.launch import start_recipient
from workflows.models import (
    ActionRequest,
    EditContentRequest,
    PauseRequest,
    RecipientInput,
    RecipientView,
    SendManualEmailRequest,
    SkipRequest,
)

router = APIRouter(prefix="/v1/sequences/{sequence_id}/recipients", tags=["recipients"])

START_CONCURRENCY = 32  # bounded, so one large enrollment does not starve other requests
NOT_REACHED = "not started: the workflow service is not answering; enroll it again"
log = logging.getLogger("seqflow.api")

# Body model per action for POST …/{rid}/{action}; the rest take an empty body.
_BODIES: dict[Action, type[BaseModel]] = {
    Action.PAUSE: PauseBody,
    Action.SEND_MANUAL_EMAIL: SendManualEmailBody,
    Action.SKIP: SkipBody,
}
_URL_ACTIONS = [a for a in calls.UPDATES if a is not Action.EDIT_CONTENT]  # edit has its own route


async def _recipient(
    store: StoreDep, caller: CallerDep, sequence_id: str, recipient_id: str
) -> RecipientRow:
    row = await Recipients(store).get(caller.workspace, sequence_id, recipient_id)
    if row is None:
        raise not_found(f"recipient {recipient_id}")
    return row


@router.post("", status_code=201, response_model=EnrollResponse)
async def enroll(
    sequence_id: str,
    body: EnrollRequest,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
) -> Response:
    """With an Idempotency-Key, a retry answers the first answer (nobody enrolled twice)."""

    async def produce() -> tuple[int, EnrollResponse, dict[str, str]]:
        answer = await enroll_recipients(sequence_id, body, caller, client, store, settings)
        return 201, answer, {}

    route = f"enroll:{sequence_id}"
    return await idempotency.once(store, caller, idempotency_key, route, body, produce)


async def enroll_recipients(
    sequence_id: str,
    body: EnrollRequest,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
) -> EnrollResponse:
    sequence = await sequence_row(store, caller, sequence_id)
    definition = definition_of(sequence)
    suppressed = await Accounts(store).suppressed_among(
        caller.workspace, [str(r.email) for r in body.recipients if r.email]
    )
    allowed = [r for r in body.recipients if not (r.email and r.email.lower() in suppressed)]
    refused = [
        Rejected(r.email, "on the suppression list (unsubscribed)")
        for r in body.recipients
        if r.email and r.email.lower() in suppressed
    ]
    if len(body.recipients) == 1 and refused:
        raise Problem(409, "Suppressed", f"{refused[0].email} is {refused[0].reason}")
    contacts = [NewContact(**r.model_dump()) for r in allowed]
    status = RecipientStatus.NOT_STARTED if body.start_at else RecipientStatus.IN_PROGRESS
    recipients = Recipients(store)
    enrolled, rejected = await recipients.enroll(caller.workspace, sequence_id, contacts, status)
    rejected = refused + rejected
    if len(body.recipients) == 1 and rejected:
        raise Problem(409, "Already enrolled", f"{rejected[0].email} is {rejected[0].reason}")

    gate = asyncio.Semaphore(START_CONCURRENCY)
    out_of_reach = asyncio.Event()  # one start met an outage: the others do not wait for it

    async def start(item: Enrolled) -> str | None:
        """None once started, else why not."""
        async with gate:
            if out_of_reach.is_set():
                return NOT_REACHED
            try:
                async with asyncio.timeout(DEADLINE):
                    await _start(item)
            except Exception as exc:
                if is_outage(exc):
                    out_of_reach.set()
                    return NOT_REACHED
                log.warning("recipient %s could not be started: %r", item.recipient_id, exc)
                return "could not be started"
        return None

    async def _start(item: Enrolled) -> None:
        contact = item.contact
        await start_recipient(
            client,
            settings.task_queue,
            RecipientInput(
                workspace=caller.workspace,
                sequence_id=sequence_id,
                recipient_id=item.recipient_id,
                contact_id=item.contact_id,
                contact=Contact(
                    email=contact.email,
                    first_name=contact.first_name,
                    last_name=contact.last_name,
                    phone=contact.phone,
                    linkedin_url=contact.linkedin_url,
                    fields=contact.fields or {},
                    company=contact.company,
                    timezone=contact.timezone,
                ),
                definition=definition,
                start_at=body.start_at,
                enrolled_by=caller.actor,
            ),
            status,
        )

    reasons = await asyncio.gather(*(start(item) for item in enrolled))
    failed = {
        item.recipient_id: reason
        for item, reason in zip(enrolled, reasons, strict=True)
        if reason is not None
    }
    if failed:
        # Never leave a row without its workflow: undo those rows and say so.
        await recipients.forget_enrollment(list(failed))
        if len(failed) == len(enrolled) and out_of_reach.is_set():
            raise outage("the enrollment")  # nothing was enrolled: retry the whole request
        if len(body.recipients) == 1:
            raise Problem(409, "Not enrolled", f"{enrolled[0].contact.email}: {reasons[0]}")
    return EnrollResponse(
        enrolled=[
            EnrolledOut(
                id=item.recipient_id,
                contact_id=item.contact_id,
                email=item.contact.email,
                status=item.status.value,
            )
            for item in enrolled
            if item.recipient_id not in failed
        ],
        rejected=[RejectedOut(email=r.email, reason=r.reason) for r in rejected]
        + [
            RejectedOut(email=item.contact.email, reason=failed[item.recipient_id])
            for item in enrolled
            if item.recipient_id in failed
        ],
    )


@router.get("", response_model=RecipientPage)
async def list_recipients(
    sequence_id: str,
    caller: CallerDep,
    store: StoreDep,
    status: RecipientStatus | None = None,
    pause_reason: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    hold_source: HoldSource | None = None,
    step: Annotated[int | None, Query(ge=0, le=999)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> RecipientPage:
    """The filters are the ones a bulk action's `filter` takes, so a page shows what it means."""
    sequence = await sequence_row(store, caller, sequence_id)
    definition = definition_of(sequence)
    where = RecipientFilter(
        pause_reason=pause_reason, hold_source=hold_source, step=step, search=search
    )
    try:
        page = await Recipients(store).page(
            caller.workspace, sequence_id, status=status, limit=limit, cursor=cursor, where=where
        )
    except ValueError as exc:
        raise Problem(422, "Invalid request", f"cursor: {exc}") from None
    paused = status_of(sequence) is SequenceStatus.PAUSED
    return RecipientPage(
        items=[recipient_row_out(row, definition, paused) for row in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{recipient_id}", response_model=RecipientPublic)
async def get_recipient(
    sequence_id: str, recipient_id: str, caller: CallerDep, client: ClientDep, store: StoreDep
) -> RecipientPublic:
    row = await _recipient(store, caller, sequence_id, recipient_id)
    try:
        view = await calls.view(
            calls.handle_for(client, caller.workspace, sequence_id, recipient_id)
        )
    except Problem as problem:
        if problem.status == 404 and row.final_view is not None:
            view = RecipientView.model_validate(row.final_view)  # past Temporal's retention
        else:
            raise
    return recipient_public(view)


@router.post(
    "/{recipient_id}/{action}",
    response_model=RecipientPublic,
    description="Actions: " + ", ".join(a.url_segment for a in _URL_ACTIONS),
)
async def act(
    sequence_id: str,
    recipient_id: str,
    action: str,
    request: Request,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
) -> RecipientPublic:
    try:
        chosen = Action.from_url_segment(action)
        if chosen not in _URL_ACTIONS:
            raise ValueError(action)
    except ValueError:
        allowed = ", ".join(a.url_segment for a in _URL_ACTIONS)
        raise Problem(
            404, "Not found", f"unknown action {action!r}; actions are {allowed}"
        ) from None
    row = await _recipient(store, caller, sequence_id, recipient_id)
    await calls.refuse_while_sequence_paused(store, caller, row, chosen)
    body = _parse_body(_BODIES.get(chosen, EmptyBody), await request.body())
    payload: ActionRequest
    if isinstance(body, PauseBody):
        payload = PauseRequest(actor=caller.actor, **body.model_dump())
    elif isinstance(body, SendManualEmailBody):
        payload = SendManualEmailRequest(actor=caller.actor, at=body.at)
    elif isinstance(body, SkipBody):
        payload = SkipRequest(actor=caller.actor, step=body.step)
    else:
        payload = ActionRequest(actor=caller.actor)
    handle = calls.handle_for(client, caller.workspace, sequence_id, recipient_id)
    return recipient_public(await calls.act(handle, chosen, payload, store, recipient_id))


def _parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise invalid(exc.errors()) from None


@router.delete("/{recipient_id}")
async def delete_recipient(
    sequence_id: str,
    recipient_id: str,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    settings: SettingsDep,
) -> dict[str, str]:
    """Delete is allowed in every status: the workflow and its history go, then the row."""
    await _recipient(store, caller, sequence_id, recipient_id)
    handle = calls.handle_for(client, caller.workspace, sequence_id, recipient_id)
    await calls.remove(client, settings.temporal_namespace, store, handle, recipient_id)
    return {"id": recipient_id, "status": "deleted"}


@router.get("/{recipient_id}/content", response_model=ContentPanel)
async def view_content(
    sequence_id: str,
    recipient_id: str,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    renderer: RendererDep,
) -> ContentPanel:
    """What was sent (resolved) and what is scheduled (resolved preview), per step.

    The table offers view_content where editing is not possible and edit_content where it
    is; both open this panel, so it always answers, in the mode the status allows.
    """
    await _recipient(store, caller, sequence_id, recipient_id)
    handle = calls.handle_for(client, caller.workspace, sequence_id, recipient_id)
    current = await calls.view(handle)
    editing = Action.EDIT_CONTENT.value in current.allowed_actions
    steps, previews = await calls.content_previews(handle, current, renderer, caller.workspace)
    return ContentPanel(
        mode="edit" if editing else "view",
        steps=[
            StepContentOut(
                index=step.index,
                type=step.type,
                state=step.state,
                error=error,
                edited=step.edited,
                editable=editing and step.editable,
                **fields,
            )
            for step, (fields, error) in zip(steps, previews, strict=True)
        ],
    )


@router.put("/{recipient_id}/content/{step}", response_model=RecipientPublic)
async def edit_content(
    sequence_id: str,
    recipient_id: str,
    step: int,
    body: ContentEdit,
    caller: CallerDep,
    client: ClientDep,
    store: StoreDep,
    renderer: RendererDep,
) -> RecipientPublic:
    row = await _recipient(store, caller, sequence_id, recipient_id)
    await calls.refuse_while_sequence_paused(store, caller, row, Action.EDIT_CONTENT)
    await refuse_unrenderable(renderer, step_fields("", body.model_dump()), caller.workspace)
    handle = calls.handle_for(client, caller.workspace, sequence_id, recipient_id)
    request = EditContentRequest(
        actor=caller.actor, step=step, content=StepContent(**body.model_dump())
    )
    return recipient_public(await calls.act(handle, Action.EDIT_CONTENT, request))
