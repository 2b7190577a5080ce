"""The email as a mail server receives it: MIME parts, headers, unsubscribe (RFC 2369 / 8058).

Messages go through `SmtpEmailChannel.send` to a real SMTP server (the `smtp` fixture) and are
read back as received.
"""

from __future__ import annotations

import dataclasses
import re
from email import message_from_bytes
from email import policy as email_policy
from email.header import decode_header, make_header
from email.message import Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.channels import OutboundMessage
from activities.email_format import build_email, text_to_html
from domain.templates import render
from domain.unsubscribe import make_token, read_token, unsubscribe_url
from tests.conftest import SmtpSink

SECRET = b"test-secret"
UNSUBSCRIBE = unsubscribe_url(
    "https://api.seqflow.example/", make_token(SECRET, "acme", "Ada@Example.com")
)


def outbound(**overrides: object) -> OutboundMessage:
    message = OutboundMessage(
        channel="email",
        to="ada@example.com",
        body="Hi Ada,\n\nA quick question.\nDo you have a minute?\n",
        subject="Hi Ada",
        message_id="<rcp_0123456789.2@seqflow>",
        headers={"X-Seqflow-Recipient": "rcp_0123456789", "X-Seqflow-Step": "2"},
    )
    return dataclasses.replace(message, **overrides)  # type: ignore[arg-type]


async def received(smtp: SmtpSink, message: OutboundMessage) -> Message:
    assert await smtp.channel().send(message) == message.message_id
    [got] = smtp.messages
    return got


def parts(message: Message) -> dict[str, tuple[str | None, str]]:
    """content type → (charset, decoded text) of the alternatives."""
    assert message.get_content_type() == "multipart/alternative"
    found = {}
    for part in message.get_payload():
        assert isinstance(part, Message)
        charset = part.get_content_charset()
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        text = payload.decode(charset or "ascii").replace("\r\n", "\n")  # CRLF on the wire
        found[part.get_content_type()] = (charset, text)
    return found


def subject_of(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


# ---- MIME structure -------------------------------------------------------------------------


async def test_text_and_html_alternatives(smtp: SmtpSink) -> None:
    got = await received(smtp, outbound())

    assert got["MIME-Version"] == "1.0"
    alternatives = parts(got)
    assert list(alternatives) == ["text/plain", "text/html"]  # the preferred one last
    charset, text = alternatives["text/plain"]
    assert charset == "utf-8"
    assert text == "Hi Ada,\n\nA quick question.\nDo you have a minute?\n"
    charset, html = alternatives["text/html"]
    assert charset == "utf-8"
    assert "<p>Hi Ada,</p>\n<p>A quick question.<br>\nDo you have a minute?</p>" in html
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    for part in got.get_payload():
        assert part["MIME-Version"] is None


async def test_html_escapes_what_a_contact_field_brings(smtp: SmtpSink) -> None:
    contact = {"first_name": "<script>alert('x')</script>", "company": 'Smith & "Sons"'}
    body = render("Hi {{ first_name }},\n\nHow is {{ company }}?", contact)
    got = await received(smtp, outbound(body=body))

    alternatives = parts(got)
    _, html = alternatives["text/html"]
    assert "<script" not in html
    assert "<p>Hi &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;,</p>" in html
    assert "<p>How is Smith &amp; &quot;Sons&quot;?</p>" in html
    _, text = alternatives["text/plain"]
    assert text.startswith("Hi <script>alert('x')</script>,\n\nHow is Smith & \"Sons\"?")


async def test_bare_urls_become_links(smtp: SmtpSink) -> None:
    body = (
        "Slides: https://example.com/deck?a=1&b=2.\n"
        "Calendar (https://cal.example.com/ada) or http://old.example.org/x_(y), thanks!\n"
        "Not links: javascript:alert(1), ftp://files.example.com, http:// alone, http://., "
        '<https://quoted.example.com/"onmouseover="x>'
    )
    got = await received(smtp, outbound(body=body))
    _, html = parts(got)["text/html"]

    assert (
        'Slides: <a href="https://example.com/deck?a=1&amp;b=2">'
        "https://example.com/deck?a=1&amp;b=2</a>.<br>"
    ) in html
    assert '(<a href="https://cal.example.com/ada">https://cal.example.com/ada</a>)' in html
    assert '<a href="http://old.example.org/x_(y)">http://old.example.org/x_(y)</a>, thanks!' in (
        html
    )
    assert "javascript:alert(1), ftp://files.example.com, http:// alone, http://., &lt;" in html
    # Quotes and angle brackets end a URL: nothing reaches an attribute unescaped.
    assert '&lt;<a href="https://quoted.example.com/">https://quoted.example.com/</a>' in html
    hrefs = re.findall(r'<a href="([^"]*)"', html)
    assert hrefs == [
        "https://example.com/deck?a=1&amp;b=2",
        "https://cal.example.com/ada",
        "http://old.example.org/x_(y)",
        "https://quoted.example.com/",
    ]


def test_paragraphs_and_line_breaks() -> None:
    text = "\r\n\nFirst line\r\nsecond line\n \n\n\nNext paragraph\n\n"
    assert text_to_html(text) == "<p>First line<br>\nsecond line</p>\n<p>Next paragraph</p>"
    assert text_to_html("") == ""


# ---- headers --------------------------------------------------------------------------------


async def test_headers_and_message_id_as_given(smtp: SmtpSink) -> None:
    long_id = "<rcp_" + "7" * 60 + ".12@mail.seqflow.example.com>"
    got = await received(smtp, outbound(message_id=long_id))

    assert got["Message-ID"] == long_id
    assert got["From"] == "seqflow <outreach@seqflow.test>"
    assert got["To"] == "ada@example.com"
    assert got["Subject"] == "Hi Ada"
    assert got["Date"]
    assert got["X-Seqflow-Recipient"] == "rcp_0123456789"
    assert got["X-Seqflow-Step"] == "2"


async def test_one_click_unsubscribe_headers_as_rfc_8058_wants(smtp: SmtpSink) -> None:
    got = await received(smtp, outbound(unsubscribe_url=UNSUBSCRIBE))

    # One URI, angle brackets, on one line (no folding inside the brackets), https.
    assert got.get_all("List-Unsubscribe") == [f"<{UNSUBSCRIBE}>"]
    assert got.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    assert UNSUBSCRIBE.startswith("https://api.seqflow.example/v1/unsubscribe/")
    # The token in the URL names the workspace and the address.
    token = UNSUBSCRIBE.rsplit("/", 1)[1]
    assert read_token(SECRET, token) == ("acme", "ada@example.com")

    alternatives = parts(got)
    _, text = alternatives["text/plain"]
    assert text.endswith(f"Do you have a minute?\n\nUnsubscribe: {UNSUBSCRIBE}\n")
    _, html = alternatives["text/html"]
    assert f'<a href="{UNSUBSCRIBE}">Unsubscribe</a></p>\n</body>' in html


async def test_no_unsubscribe_headers_without_a_url(smtp: SmtpSink) -> None:
    got = await received(smtp, outbound())

    assert "List-Unsubscribe" not in got
    assert "List-Unsubscribe-Post" not in got
    assert all("nsubscribe" not in text for _, text in parts(got).values())


async def test_french_subject_and_body_round_trip(smtp: SmtpSink) -> None:
    # Python 3.11's own folder loses the space in "réunion très" for this one.
    subject = "Café à Paris pour l'équipe — réunion très importante de la semaine prochaine ?"
    body = "Bonjour Élodie,\n\nÇa vous dirait d'en parler à Besançon ? Voilà où on en est.\n"
    got = await received(smtp, outbound(subject=subject, body=body))

    raw_subject = got["Subject"]
    assert raw_subject.isascii()  # RFC 2047 encoded words, not raw UTF-8
    assert subject_of(got) == subject
    reparsed = message_from_bytes(got.as_bytes(), policy=email_policy.default)
    assert reparsed["Subject"] == subject
    alternatives = parts(got)
    assert alternatives["text/plain"] == ("utf-8", body)
    assert (
        "<p>Ça vous dirait d&#x27;en parler à Besançon ? Voilà où on en est.</p>"
        in (alternatives["text/html"][1])
    )


def test_subject_line_breaks_become_spaces() -> None:
    email = build_email(
        sender="s@example.com",
        to="ada@example.com",
        subject="Hi\r\n Ada\u2028again",
        body="x",
        message_id="<a.0@seqflow>",
    )
    assert email["Subject"] == "Hi Ada again"


def test_extra_headers_cannot_replace_the_channels_own() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        build_email(
            sender="s@example.com",
            to="ada@example.com",
            subject="Hi",
            body="x",
            message_id="<a.0@seqflow>",
            extra_headers={"Message-ID": "<other@x>"},
        )


@pytest.mark.parametrize("url", ["ftp://x.example/u", "https://x.example/a b", "https://é.fr/u"])
def test_unsubscribe_url_must_be_a_plain_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        build_email(
            sender="s@example.com",
            to="ada@example.com",
            subject="Hi",
            body="x",
            message_id="<a.0@seqflow>",
            unsubscribe_url=url,
        )


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200),
        st.text(
            st.sampled_from(list("  abcdefghijklmnopqrstuvwxyz=?_:;,.<>\"'()éàçÉ—")), max_size=300
        ),
    ).map(lambda s: " ".join(s.split()))
)
def test_any_subject_round_trips(subject: str) -> None:
    email = build_email(
        sender="s@example.com",
        to="ada@example.com",
        subject=subject,
        body="x",
        message_id="<a.0@seqflow>",
    )
    raw = email.as_bytes(policy=email_policy.SMTP)  # what aiosmtplib sends
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    got = message_from_bytes(raw)
    assert subject_of(got) == subject
