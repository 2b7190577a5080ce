"""Secrets that belong to one purpose: the token secret signs unsubscribe links, is required
outside dev mode, survives API key changes and rotates without breaking links already sent."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from domain.unsubscribe import make_token, read_link
from settings import Settings
from store.db import Store
from tests.api.test_ledger_suppression_senders import first_step_sent
from tests.conftest import API_KEY, TOKEN_SECRET, Api, SmtpSink

STRONG = "9f" * 32


@pytest.mark.parametrize("secret", ["", "short", "changeme"], ids=["unset", "short", "known"])
def test_a_production_process_refuses_to_start_without_a_real_secret(secret: str) -> None:
    with pytest.raises(SystemExit, match="SEQFLOW_TOKEN_SECRET"):
        Settings(token_secret=secret).refuse_unsafe_production()
    Settings(token_secret=secret, dev_mode=True).refuse_unsafe_production()  # make run: fine
    Settings(token_secret=STRONG).refuse_unsafe_production()


def test_the_secret_is_not_derived_from_the_api_keys() -> None:
    assert Settings(api_keys="a:acme").token_secret_bytes() == b""
    assert Settings(api_keys="a:acme", token_secret=STRONG).token_secret_bytes() == (
        Settings(api_keys="a:acme,b:globex", token_secret=STRONG).token_secret_bytes()
    )


async def test_a_link_names_its_recipient_and_outlives_key_changes_and_rotation(
    api: Api, store: Store, smtp: SmtpSink
) -> None:
    sequence = await api.create_sequence()
    [ada] = await api.enroll(sequence["id"], "ada@example.com")
    await first_step_sent(api, sequence["id"], ada["id"])
    path = smtp.messages[0]["List-Unsubscribe"].strip("<>").removeprefix("http://seqflow.test")
    token = path.rsplit("/", 1)[1]
    link = read_link(TOKEN_SECRET.encode(), token)
    assert link is not None and (link.workspace, link.email, link.recipient_id) == (
        "acme",
        "ada@example.com",
        ada["id"],
    )

    async def click(settings: Settings) -> int:
        app = create_app(settings, client=api.client, store=store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return (await http.get(path)).status_code

    # Another set of API keys, same secret: the link still works.
    assert (
        await click(Settings(api_keys=f"{API_KEY}:acme,new:other", token_secret=TOKEN_SECRET))
        == 200
    )
    # Rotated: the old secret is still accepted as a previous one, and only then.
    rotated = Settings(token_secret=STRONG, token_secrets_previous=f"x,{TOKEN_SECRET}")
    assert await click(rotated) == 200
    assert await click(Settings(token_secret=STRONG)) == 404


def test_links_sent_before_recipients_were_named_still_read() -> None:
    old = make_token(b"k", "acme", "ada@example.com")
    link = read_link([b"new", b"k"], old)
    assert link is not None and link.recipient_id is None and link.email == "ada@example.com"
