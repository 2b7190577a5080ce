"""The console's pages, one module per screen. Each handler asks the same code as the HTTP API
(api/*_calls.py, the store classes, domain.actions) and renders what it answers; a refusal (a
Problem) becomes a message on the page, never a second rule."""

from fastapi import APIRouter

from console.pages import (
    contacts,
    errors,
    recipient,
    recipients,
    senders,
    sequences,
    signin,
    suppressions,
)

router = APIRouter(include_in_schema=False)
# Order matters where paths overlap: /sequences/new before /sequences/{sequence_id}.
for module in (signin, sequences, recipients, recipient, errors, senders, suppressions, contacts):
    router.include_router(module.router)
