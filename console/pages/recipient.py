"""One recipient's panel (status, pause, error, timeline, content), its confirmations and
actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api import recipient_calls
from api.problems import Problem
from api.template_checks import refuse_unrenderable, step_fields
from console import session as sessions
from console.labels import ACTION_LABELS, BLOCKED_WHY, STEP_TYPE_LABELS, step_label
from console.web import (
    NotHere,
    action_link,
    caller,
    current,
    page,
    posted,
    recipient_row,
    redirect,
    row_actions,
    sequence_row,
    services,
    utc_field,
    when,
    zone_of,
)
from domain.models import StepContent
from domain.statuses import LABELS, Action, SequenceStatus, StepType
from store.sequences import definition_of, status_of
from workflows.models import (
    ActionRequest,
    EditContentRequest,
    PauseRequest,
    RecipientView,
    SendManualEmailRequest,
    SkipRequest,
)

router = APIRouter(include_in_schema=False)


async def _view(request: Request, session: sessions.Session, sid: str, rid: str) -> Any:
    _, client, store, _, _ = services(request)
    await recipient_row(store, session, sid, rid)
    handle = recipient_calls.handle_for(client, session.workspace, sid, rid)
    return handle, await recipient_calls.view(handle)


def _name(view: RecipientView) -> str:
    contact = view.contact
    return (
        " ".join(filter(None, [contact.first_name, contact.last_name])) or contact.email or view.id
    )


@router.get("/sequences/{sequence_id}/recipients/{recipient_id}", response_class=HTMLResponse)
async def recipient_page(request: Request, sequence_id: str, recipient_id: str) -> Response:
    session = current(request)
    _, _, store, renderer, _ = services(request)
    sequence = await sequence_row(store, session, sequence_id)
    try:
        handle, view = await _view(request, session, sequence_id, recipient_id)
        steps, previews = await recipient_calls.content_previews(
            handle, view, renderer, session.workspace
        )
    except Problem as problem:
        raise NotHere(problem.detail) from None
    allowed = [Action(a) for a in view.allowed_actions]
    paused = status_of(sequence) is SequenceStatus.PAUSED
    row = await recipient_row(store, session, sequence_id, recipient_id)
    _, blocked = row_actions(row, definition_of(sequence), paused)
    editing = Action.EDIT_CONTENT in allowed
    total = len(view.steps)
    return page(
        request,
        session,
        "recipient.html",
        sequence=sequence,
        view=view,
        name=_name(view),
        status_label=LABELS[view.status],
        step=f"{min(view.current_step + 1, total)}/{total}",
        next_at=when(view.next_step_at, zone_of(definition_of(sequence))),
        actions=[
            action_link(sequence_id, recipient_id, a)
            for a in allowed
            if a not in (Action.VIEW_CONTENT, Action.EDIT_CONTENT, Action.RETRY)
        ],
        blocked=[{"label": ACTION_LABELS[a], "why": BLOCKED_WHY} for a in blocked],
        can_retry=Action.RETRY in allowed,
        content=[
            {
                "index": s.index,
                "type": STEP_TYPE_LABELS[s.type],
                "state": s.state.value,
                "error": error,
                "editable": editing and s.editable,
                **fields,
            }
            for s, (fields, error) in zip(steps, previews, strict=True)
        ],
        timeline=[
            {
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor,
                "details": e.details,
                "details_text": ", ".join(f"{k}: {v}" for k, v in e.details.items()),
            }
            for e in reversed(view.timeline)
        ],
    )


@router.get(
    "/sequences/{sequence_id}/recipients/{recipient_id}/content/{step}", response_class=HTMLResponse
)
async def edit_content_page(
    request: Request, sequence_id: str, recipient_id: str, step: int
) -> Response:
    session = current(request)
    handle, view = await _view(request, session, sequence_id, recipient_id)
    steps = await recipient_calls.content(handle)
    if not 0 <= step < len(steps) or steps[step].content is None:
        raise NotHere("There is no such step.")
    content = steps[step].content
    assert content is not None
    names = ["title", "notes"] if steps[step].type is StepType.TASK else ["subject", "body"]
    return page(
        request,
        session,
        "edit_content.html",
        name=_name(view),
        step=step,
        back=f"/sequences/{sequence_id}/recipients/{recipient_id}",
        fields=[{"name": n, "label": n.title(), "value": getattr(content, n)} for n in names],
    )


@router.post(
    "/sequences/{sequence_id}/recipients/{recipient_id}/content/{step}", response_class=HTMLResponse
)
async def edit_content(
    request: Request, sequence_id: str, recipient_id: str, step: int
) -> Response:
    session, form = await posted(request)
    _, client, store, renderer, _ = services(request)
    back = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    row = await recipient_row(store, session, sequence_id, recipient_id)
    edit = StepContent(
        **{k: str(form[k]) for k in ("subject", "body", "title", "notes") if form.get(k)}
    )
    try:
        await refuse_unrenderable(renderer, step_fields("", edit.model_dump()), session.workspace)
        await recipient_calls.refuse_while_sequence_paused(
            store, caller(session), row, Action.EDIT_CONTENT
        )
        handle = recipient_calls.handle_for(client, session.workspace, sequence_id, recipient_id)
        await recipient_calls.act(
            handle,
            Action.EDIT_CONTENT,
            EditContentRequest(actor=session.actor, step=step, content=edit),
        )
    except Problem as problem:
        return redirect(request, session, back, f"Not saved: {problem.detail}")
    return redirect(request, session, back, f"Step {step + 1} content saved.")


def _confirmation(view: RecipientView, action: Action, definition: Any) -> dict[str, Any]:
    """What the confirmation page says will happen, in the articles' words."""
    name = _name(view)
    index = view.current_step
    steps = definition.steps
    if action is Action.PAUSE:
        return {
            "title": "Pause Recipient",
            "what": f"Pause sequence for {name}? No further steps will be executed until resumed.",
            "confirm": "Pause",
            "pause_fields": True,
        }
    if action is Action.RESUME:
        return {
            "title": "Resume Recipient",
            "what": f"Resume sequence for {name}? Their steps go on from where they were paused.",
            "confirm": "Resume",
        }
    if action is Action.SKIP:
        if index + 1 < len(steps):
            after = steps[index + 1]
            following = (
                f"The next step will be step {index + 2} ({step_label(after.type)}), "
                f"due {after.delay_text or after.delay} after the skip."
            )
        else:
            following = f"This is the last step: {name} completes."
        return {
            "title": "Skip Step",
            "what": f"Skip step {index + 1} for {name}? {following}",
            "confirm": "Skip step",
        }
    if action is Action.STOP:
        return {
            "title": "Stop Sequence",
            "what": f"Stop the sequence for {name}? No further steps will be sent to them.",
            "warning": "This cannot be undone.",
            "confirm": "Stop sequence",
        }
    if action is Action.DELETE:
        return {
            "title": "Delete Recipient",
            "what": f"Delete {name} from this sequence, with their history and reporting?",
            "warning": "This cannot be undone.",
            "confirm": "Delete recipient",
        }
    if action is Action.SEND_MANUAL_EMAIL:
        return {
            "title": "Send Manual Email",
            "what": f"Send step {index + 1}'s email to {name}, now or at a time you choose?",
            "confirm": "Send",
            "at_field": True,
        }
    if action is Action.COMPLETE_TASK:
        return {
            "title": "Complete Task",
            "what": f"Mark step {index + 1}'s task as done for {name}?",
            "confirm": "Complete task",
        }
    if action is Action.EXCLUDE:
        return {
            "title": "Exclude",
            "what": f"Exclude {name}? They will not start this sequence.",
            "warning": "This cannot be undone.",
            "confirm": "Exclude",
        }
    return {
        "title": ACTION_LABELS[action],
        "what": f"{ACTION_LABELS[action]} for {name}?",
        "confirm": ACTION_LABELS[action],
    }


@router.get(
    "/sequences/{sequence_id}/recipients/{recipient_id}/{segment}", response_class=HTMLResponse
)
async def confirm_page(
    request: Request, sequence_id: str, recipient_id: str, segment: str
) -> Response:
    session = current(request)
    _, _, store, _, _ = services(request)
    action = _action(segment)
    sequence = await sequence_row(store, session, sequence_id)
    _, view = await _view(request, session, sequence_id, recipient_id)
    back = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    if action.value not in view.allowed_actions:
        return redirect(
            request,
            session,
            back,
            f"{ACTION_LABELS[action]} is not possible now ({LABELS[view.status]}).",
        )
    return page(
        request,
        session,
        "confirm.html",
        action=f"{back}/{segment}",
        back=back,
        hidden=[("step", view.current_step)] if action is Action.SKIP else [],
        **_confirmation(view, action, definition_of(sequence)),
    )


def _action(segment: str) -> Action:
    try:
        action = Action.from_url_segment(segment)
    except ValueError:
        raise NotHere(f"There is no action {segment!r}.") from None
    if action in (Action.VIEW_CONTENT, Action.EDIT_CONTENT):
        raise NotHere(f"There is no action {segment!r}.")
    return action


@router.post(
    "/sequences/{sequence_id}/recipients/{recipient_id}/{segment}", response_class=HTMLResponse
)
async def do_action(
    request: Request, sequence_id: str, recipient_id: str, segment: str
) -> Response:
    session, form = await posted(request)
    _, client, store, _, namespace = services(request)
    action = _action(segment)
    row = await recipient_row(store, session, sequence_id, recipient_id)
    handle = recipient_calls.handle_for(client, session.workspace, sequence_id, recipient_id)
    back = f"/sequences/{sequence_id}/recipients/{recipient_id}"
    try:
        if action is Action.DELETE:
            await recipient_calls.remove(client, namespace, store, handle, recipient_id)
            return redirect(request, session, f"/sequences/{sequence_id}", "Recipient deleted.")
        await recipient_calls.refuse_while_sequence_paused(store, caller(session), row, action)
        payload = _payload(action, form, session.actor)
        view = await recipient_calls.act(handle, action, payload, store, recipient_id)
    except Problem as problem:
        return redirect(request, session, back, f"{ACTION_LABELS[action]}: {problem.detail}")
    except ValueError as exc:
        return redirect(request, session, back, f"{ACTION_LABELS[action]}: {exc}")
    return redirect(
        request, session, back, f"{ACTION_LABELS[action]} done: now {LABELS[view.status]}."
    )


def _payload(action: Action, form: Any, actor: str) -> ActionRequest:
    if action is Action.PAUSE:
        return PauseRequest(
            actor=actor,
            reason=str(form.get("reason") or "") or None,
            note=str(form.get("note") or "") or None,
            until=utc_field(str(form.get("until") or "") or None),
        )
    if action is Action.SKIP:
        step = form.get("step")
        return SkipRequest(actor=actor, step=int(str(step)) if step else None)
    if action is Action.SEND_MANUAL_EMAIL:
        return SendManualEmailRequest(actor=actor, at=utc_field(str(form.get("at") or "") or None))
    return ActionRequest(actor=actor)
