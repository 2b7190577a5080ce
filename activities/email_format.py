"""The MIME form of an outreach email: text and HTML alternatives, and headers that survive.

Step content is plain text (templates render unescaped). The HTML part is derived from it:
escaped, blank-line-separated paragraphs become ``<p>``, single newlines ``<br>``, bare
http(s) URLs links. With an unsubscribe URL the message carries RFC 2369 / RFC 8058 headers
(``List-Unsubscribe: <url>`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) and
an unsubscribe line at the end of both parts.

Two headers are written by hand rather than by the standard library's folder:

- ``List-Unsubscribe`` (and ``Message-ID``, ``List-Unsubscribe-Post``) verbatim on one line:
  the folder would turn a long URL into RFC 2047 encoded words, which no client follows.
- A non-ASCII ``Subject`` with ``email.header.Header``: Python 3.11's folder can drop the
  space between two encoded words ("réunion très" arrives as "réuniontrès").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email import policy as email_policy
from email.header import Header
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formatdate
from html import escape
from typing import Any, ClassVar, Literal

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058 §3.1, the exact List-Unsubscribe-Post value

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_UNSUBSCRIBE_URL = re.compile(r"https?://[\x21-\x7e]+")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# What str.splitlines() splits on: the header model refuses any of these in a value.
_LINE_BREAKS = re.compile(r"[ \t]*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


class _VerbatimHeader(UnstructuredHeader, BaseHeader):
    """A header written exactly as given, on one line: printable ASCII only."""

    max_count: ClassVar[Literal[1]] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        if not _VISIBLE_ASCII.fullmatch(value):
            raise ValueError(f"{value!r} must be printable ASCII on one line")
        super().parse(value, kwds)
        kwds["decoded"] = value  # no encoded-word decoding either

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


class _SubjectHeader(UnstructuredHeader, BaseHeader):
    """Folded by the standard library when ASCII, by `email.header.Header` otherwise."""

    max_count: ClassVar[Literal[1]] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        super().parse(value, kwds)
        kwds["decoded"] = value  # a subject reading "=?utf-8?…?=" is sent as typed

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        if value.isascii() and "=?" not in value:
            return super().fold(policy=policy)
        encoded = Header(value, "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def _header_registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("message-id", "list-unsubscribe", "list-unsubscribe-post"):
        registry.map_to_type(name, _VerbatimHeader)
    registry.map_to_type("subject", _SubjectHeader)
    return registry


# 7bit: non-ASCII bodies go out quoted-printable or base64, whatever the relays support.
POLICY = email_policy.SMTP.clone(header_factory=_header_registry(), cte_type="7bit")

# Headers the channel writes itself; `extra_headers` may not set them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)


def build_email(
    *,
    sender: str,
    to: str,
    subject: str | None,
    body: str,
    message_id: str,
    extra_headers: Mapping[str, str] | None = None,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """multipart/alternative: text/plain (the body as rendered) and text/html derived from it."""
    if unsubscribe_url is not None and not _UNSUBSCRIBE_URL.fullmatch(unsubscribe_url):
        raise ValueError(f"{unsubscribe_url!r} is not an http(s) URL in printable ASCII")
    email = EmailMessage(policy=POLICY)
    email["From"] = sender
    email["To"] = to
    email["Subject"] = _LINE_BREAKS.sub(" ", subject or "")
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id
    if unsubscribe_url is not None:
        email["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = ONE_CLICK
    for name, value in (extra_headers or {}).items():
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"the {name} header is the email channel's own")
        email[name] = value
    email.set_content(plain_text(body, unsubscribe_url))
    email.add_alternative(html_document(body, unsubscribe_url), subtype="html")
    for part in email.iter_parts():
        del part["MIME-Version"]  # set_content adds it to the HTML part too; it belongs on top
    return email


def plain_text(body: str, unsubscribe_url: str | None = None) -> str:
    text = _normalise_newlines(body)
    if unsubscribe_url is None:
        return text
    kept = text.rstrip()
    return f"{kept}\n\n" * bool(kept) + f"Unsubscribe: {unsubscribe_url}\n"


def html_document(body: str, unsubscribe_url: str | None = None) -> str:
    parts = [text_to_html(body)]
    if unsubscribe_url is not None:
        href = escape(unsubscribe_url)
        parts.append(f'<p style="font-size:small;color:#666"><a href="{href}">Unsubscribe</a></p>')
    content = "\n".join(part for part in parts if part)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"</head>\n<body>\n{content}\n</body>\n</html>\n"
    )


def text_to_html(text: str) -> str:
    """Escaped paragraphs: a blank line separates ``<p>``s, a single newline is a ``<br>``."""
    paragraphs = _PARAGRAPH_BREAK.split(_normalise_newlines(text).strip("\n"))
    html = []
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        lines = [_linkify(line) for line in paragraph.split("\n")]
        html.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(html)


def _linkify(line: str) -> str:
    """HTML-escape a line, turning bare http(s) URLs into links."""
    out, position = [], 0
    for match in _URL.finditer(line):
        url = _trim_url(match.group())
        if url.lower() in ("http://", "https://"):
            continue
        out.append(escape(line[position : match.start()]))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        position = match.start() + len(url)
    out.append(escape(line[position:]))
    return "".join(out)


def _trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL ("see https://x.io/a).")."""
    while url:
        last = url[-1]
        if last in ".,;:!?'*":
            url = url[:-1]
        elif last == ")" and url.count("(") < url.count(")"):
            url = url[:-1]
        elif last == "]" and url.count("[") < url.count("]"):
            url = url[:-1]
        else:
            break
    return url


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
