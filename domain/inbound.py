"""Inbound messages (docs/inbound-events.md): a reply, an out-of-office, an auto-reply, a bounce.

Pure functions: no I/O, no Temporal, no network. The caller maps the result onto the recipient:
REPLY → responded, OUT_OF_OFFICE → paused with `reason = out_of_office` and, when known,
`until = return_morning(return_date, tz)`, BOUNCE → bounced (the evidence carries the SMTP status
code when there is one: 5.x.x is permanent, 4.x.x temporary), AUTO_REPLY → recorded only.

How a message is read, in order:

1. Bounce (delivery status notification) — from headers, subject or the MTA's own wording, over
   the whole text. Checked first: a DSN often quotes words such as "away" or dates, and is
   still a bounce.
2. The quoted original below a reply ("On … wrote:", "Le … a écrit :", "> …", Outlook's
   "From:/Sent:" block) is cut off; everything after that reads only what the sender wrote.
3. Out-of-office = an *absence* phrase ("out of the office", "en congés", …) plus a sign that
   no person typed it: an automation header, an auto-reply subject, "this is an automatic
   reply", or template wording ("limited access to email", "for urgent matters", …). An absence
   phrase alone is a person telling us about their holidays: that is a REPLY.
4. Any other automation sign → AUTO_REPLY ("we received your message", read receipts, …).
5. Otherwise → REPLY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import dateparser
from dateparser.search import search_dates


class ReplyKind(StrEnum):
    REPLY = "reply"
    OUT_OF_OFFICE = "out_of_office"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class ReplyClassification:
    kind: ReplyKind
    return_date: date | None  # only for OUT_OF_OFFICE, when the message states when they are back
    evidence: str  # short human-readable reason, e.g. "header Auto-Submitted: auto-replied"


def _rx(*alternatives: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """One compiled alternation; the parts stay one per line below so they can be reviewed."""
    return re.compile("|".join(f"(?:{a})" for a in alternatives), flags)


# ---- 1. bounces -----------------------------------------------------------------------------

# What MTAs put in the subject of a non-delivery or delay report (Postfix, Exim, qmail,
# sendmail, Gmail, Exchange/Outlook in English and French).
_BOUNCE_SUBJECT = _rx(
    r"delivery status notification",
    r"undeliver(?:ed|able)",
    r"mail delivery (?:failed|failure|subsystem)",
    r"delivery (?:failure|has failed|failed|incomplete|(?:has been )?delayed)",
    r"returned mail",
    r"failure notice",
    r"^\s*delayed\s*:",
    r"non[- ]remis",
    r"non distribu[ée]",
    r"[ée]chec de (?:la )?(?:remise|distribution|livraison)",
    r"message non d[ée]livr[ée]",
)

# Wording only a mail server writes (a person saying "my email bounced" does not match).
_BOUNCE_BODY = _rx(
    r"^(?:diagnostic-code|final-recipient|reporting-mta|original-recipient)\s*:",
    r"^action\s*:\s*(?:failed|delayed)",
    r"this is the mail system at host",
    r"this is the qmail-send program",
    r"created automatically by mail delivery software",
    r"delivery to the following recipients? (?:failed|has been delayed)",
    r"delivery has (?:failed|been delayed) to these recipients",
    r"(?:your )?message (?:could not|couldn't|wasn't|was not) (?:be )?delivered to",
    r"i'?m afraid i wasn't able to deliver your message",
    r"l'?adresse (?:e-?mail )?que vous avez entr[ée]e est introuvable",
    r"votre message n'a pas pu [êe]tre (?:remis|distribu[ée]|d[ée]livr[ée])",
    r"[ée]chec de la remise [àa] ces destinataires",
    flags=re.IGNORECASE | re.MULTILINE,
)

# An enhanced status code (RFC 3463) where a DSN prints it: "550 5.1.1", "#550 5.1.1",
# "Status: 4.2.2", "smtp; 5.7.1". A bare "1.2.3" elsewhere could be a version number.
_STATUS_CODE = re.compile(
    r"(?:\b[245]\d\d[ -]|#|status\s*:\s*|smtp\s*;\s*)([45]\.\d{1,3}\.\d{1,3})\b", re.IGNORECASE
)


def _bounce_evidence(subject: str, text: str, headers: Mapping[str, str]) -> str | None:
    reason = None
    content_type = headers.get("content-type", "").lower()
    if "multipart/report" in content_type and "disposition-notification" not in content_type:
        reason = f"header Content-Type: {content_type.split(';')[0]}"
    elif "x-failed-recipients" in headers:
        reason = "header X-Failed-Recipients"
    elif "x-ms-exchange-message-is-ndr" in headers:
        reason = "header X-MS-Exchange-Message-Is-Ndr"
    elif m := _BOUNCE_SUBJECT.search(subject):
        reason = f"subject '{_snippet(m)}'"
    elif m := _BOUNCE_BODY.search(text):
        reason = f"DSN text '{_snippet(m)}'"
    elif m := _STATUS_CODE.search(text):
        reason = "SMTP status"
    if reason is None:
        return None
    if code := _STATUS_CODE.search(text):
        reason += f"; status {code.group(1)}"
    return reason


# ---- 2. the sender's own words ------------------------------------------------------------

# Where the quoted original starts; everything from the earliest match on is dropped, so that a
# date in "On Mon, Nov 2, 2026 … wrote:" or in our own quoted message is never read.
_QUOTE_STARTS = (
    re.compile(r"^[ \t]*>", re.MULTILINE),
    re.compile(r"^[ \t]*On\b[^\n]*(?:\n[^\n]*)?\bwrote:[ \t]*$", re.MULTILINE),
    re.compile(r"^[ \t]*Le\b[^\n]*(?:\n[^\n]*)?\ba [ée]crit[ \t]*:[ \t]*$", re.MULTILINE),
    re.compile(
        r"^[ \t]*-{2,}[ \t]*(?:original message|message d'origine|message original|"
        r"forwarded message|message transf[ée]r[ée])[ \t]*-{2,}",
        re.MULTILINE | re.IGNORECASE,
    ),
    re.compile(
        r"^[ \t]*(?:From|De)[ \t]*:[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*(?:Sent|Envoy[ée])[ \t]*:",
        re.MULTILINE | re.IGNORECASE,
    ),
    re.compile(r"^[ \t]*_{10,}[ \t]*$", re.MULTILINE),  # Outlook's line above "From:"
)

# "Automatic reply: Re: Senior role" — only the part before the first reply/forward marker was
# written by the replying side; the rest is our own subject and proves nothing.
_REPLY_MARKER = re.compile(r"\b(?:re|fwd?|tr|aw|sv|réf)\s*:", re.IGNORECASE)


def _strip_quoted(text: str) -> str:
    starts = [m.start() for p in _QUOTE_STARTS if (m := p.search(text))]
    return text[: min(starts)] if starts else text


def _own_subject(subject: str) -> str:
    m = _REPLY_MARKER.search(subject)
    return subject[: m.start()] if m else subject


# ---- 3. automation and absence ---------------------------------------------------------------

_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})

_AUTO_SUBJECT = _rx(
    r"auto(?:matic)?[- ]?(?:reply|response)",
    r"autoreply",
    r"^\s*auto\s*:",
    r"r[ée]ponse automatique",
    r"message automatique",
    r"accus[ée] de r[ée]ception",
    r"^\s*(?:read|lu)\s*:",  # read receipts
    r"request received",
    r"\b(?:ticket|request|case|demande) #\s*\d+",
)

# A message that says about itself that no person wrote it. Not "auto-reply" alone: a person
# writes "sorry, my auto-reply went to you".
_AUTO_BODY = _rx(
    r"this is an? (?:automatic|automated|auto-generated) (?:reply|response|message|e-?mail|notice)",
    r"(?:un|une) (?:message|r[ée]ponse|e-?mail|courriel) automatique",
    r"do not reply to this (?:e-?mail|message)",
    r"(?:merci de|veuillez) ne pas r[ée]pondre",
)

# Generic acknowledgements: automated, but with no absence meaning.
_ACK_BODY = _rx(
    r"we(?: have|'ve)? received your (?:e-?mail|message|request|inquiry|enquiry|application)",
    r"(?:your|this) (?:e-?mail|message|request) (?:has been|was) received",
    r"thank you for contacting",
    r"\b(?:ticket|request|case) (?:#|number|no\.?)\s*\d+",
    r"this (?:mailbox|inbox|address) is (?:not|no longer) (?:monitored|in use)",
    r"(?:is|am) no longer (?:with|at|employed|working)",
    r"nous avons bien re[çc]u votre (?:message|demande|e-?mail|courriel)",
    r"accus[ée] de r[ée]ception",
    r"n'(?:est|fait) plus partie",
)

# Being away. Kept to phrases about the sender's own absence: "office" alone, "back" alone or a
# bare date prove nothing ("call my office line", "let's talk on June 15").
_ABSENCE = _rx(
    r"out of (?:the )?office",
    r"out of the country",
    r"(?:on|taking) (?:(?:a|an|my|some)\s+)?"
    r"(?:(?:annual|parental|maternity|paternity|sick|medical|family|study|extended)\s+)?"
    r"(?:leave|vacation|holidays?|PTO|sabbatical|time off)\b",
    r"on (?:a )?business trip",
    r"away (?:from (?:the|my) (?:office|desk|e-?mail|computer)|until|till|through|for the)",
    r"(?:i am|i'm|currently|presently) (?:away|out|off|travell?ing|offline|on the road)\b",
    r"out (?:sick|until|till|through)\b",
    r"not in the office",
    r"(?:i'll|i will|will) be back\b",  # "I'll be back in the office on Monday" says I am away
    r"back in the office (?:on|from|next|tomorrow)",
    r"(?:attending|at) (?:a|an|the) (?:conference|trade show|offsite|off-site|summit|training)",
    r"offices? (?:is|are|will be) closed",
    r"absente?s? du bureau",
    r"absent\(e\)",
    r"^\s*absente?s?\b",  # a subject that is just "Absente jusqu'au 27/11"
    r"absence du bureau",
    r"(?:je suis|je serai|suis|serai|actuellement|pr[ée]sentement) absente?s?\b",
    r"en (?:cong[ée]s?|vacances|d[ée]placement|formation|s[ée]minaire|RTT|arr[êe]t maladie)\b",
    r"(?:hors|en dehors|loin) du bureau",
    r"pas au bureau",
    r"message d'absence",
    r"de retour (?:le|au bureau|[àa] partir|d[èe]s)",
    r"(?:je suis|actuellement) indisponible",
    r"(?:bureaux|bureau|locaux) (?:est|sont|sera|seront) ferm[ée]s?",
)
_ABSENCE_CASED = re.compile(r"\bOOO\b")  # upper case only: "Ooo, nice!" is a person

# Template wording of an absence notice. With an absence phrase and no automation header it
# still marks an out-of-office; a person's "I'm on holiday, let's talk after" has none of it.
_OOO_TEMPLATE = _rx(
    r"(?:limited|no|intermittent|restricted) access to (?:my )?(?:e-?mails?|messages|inbox)",
    r"(?:for|in case of|if (?:it is|it's|your (?:matter|request) is)) (?:anything |an )?urgent",
    r"urgent (?:matters|requests|issues|inquiries|enquiries|questions)",
    r"if urgent",
    r"(?:respond|reply|get back to you|attend to|answer|read)[^.\n]{0,40}"
    r"(?:upon|on|after) my return",
    r"upon my return",
    r"acc[èe]s (?:limit[ée]|restreint) [àa] (?:mes |ma )?(?:e-?mails?|messagerie|courriels?)",
    r"pour toute (?:demande |question )?urgen",
    r"en cas d'urgence",
    r"(?:prendrai connaissance|traiterai|r[ée]pondrai)[^.\n]{0,40}"
    r"(?:[àa]|d[èe]s|lors de) mon retour",
)


def _automation_evidence(own_subject: str, body: str, headers: Mapping[str, str]) -> str | None:
    """Why we think no person typed this message, or None."""
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"header Auto-Submitted: {auto_submitted}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        if name in headers:
            return f"header {name}: {headers[name]}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"header Precedence: {precedence}"
    if "disposition-notification" in headers.get("content-type", "").lower():
        return "header Content-Type: read receipt"
    if m := _AUTO_SUBJECT.search(own_subject):
        return f"subject '{_snippet(m)}'"
    if m := _find_absence(own_subject):  # a subject that *is* the absence notice
        return f"subject '{_snippet(m)}'"
    if m := _AUTO_BODY.search(body) or _ACK_BODY.search(body):
        return f"phrase '{_snippet(m)}'"
    return None


def _find_absence(text: str) -> re.Match[str] | None:
    found = [m for m in (_ABSENCE.search(text), _ABSENCE_CASED.search(text)) if m]
    return min(found, key=lambda m: m.start()) if found else None


# ---- the classifier ---------------------------------------------------------------------------


def classify_reply(
    *,
    subject: str,
    text: str,
    headers: Mapping[str, str],
    received_at: datetime,
    timezone: str = "UTC",
) -> ReplyClassification:
    """Read one inbound message; `timezone` is the recipient's, for "tomorrow" and "Monday"."""
    lower_headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
    if bounce := _bounce_evidence(subject, text, lower_headers):
        return ReplyClassification(ReplyKind.BOUNCE, None, bounce)

    body = _strip_quoted(text)
    own_subject = _own_subject(subject)
    automated = _automation_evidence(own_subject, body, lower_headers)
    absence = _find_absence(own_subject) or _find_absence(body)
    if absence:
        template = _OOO_TEMPLATE.search(body)
        marker = automated or (f"phrase '{_snippet(template)}'" if template else None)
        if marker:
            received = _local(received_at, timezone)
            return ReplyClassification(
                ReplyKind.OUT_OF_OFFICE,
                _return_date(own_subject, body, received),
                f"{marker}; phrase '{_snippet(absence)}'",
            )
    if automated:
        return ReplyClassification(ReplyKind.AUTO_REPLY, None, automated)
    if absence:
        why = f"phrase '{_snippet(absence)}' but no sign of automation: written by a person"
        return ReplyClassification(ReplyKind.REPLY, None, why)
    return ReplyClassification(ReplyKind.REPLY, None, "no automation or absence signal")


def return_morning(day: date, timezone: str, hour: int = 9) -> datetime:
    """`hour`:00 local time on `day` in `timezone`, as an aware UTC datetime.

    Across a DST change the UTC offset of that very day is used (9:00 in Paris is 08:00Z in
    winter, 07:00Z in summer). A local time that does not exist (the skipped hour of a spring
    change) follows PEP 495: it is read with the offset before the change, i.e. one hour later
    in wall-clock terms; an ambiguous one (autumn) is its first occurrence.
    """
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _local(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is None:  # a naive timestamp from a mail header parser is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone))


def _snippet(m: re.Match[str]) -> str:
    return " ".join(m.group(0).split()).lower()


# ---- the return date --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    date_order: str  # "MDY" after an English cue, "DMY" after a French one
    inclusive: bool = False  # "through X": X is still a day away


_RETURN_CUES = (
    _Cue(
        _rx(
            r"\bback\b",
            r"\breturn(?:ing|s)?\b",
            r"\breopen(?:s|ing)?\b",
            r"\bresum(?:e|ing)\b",
            r"\b(?:available|reachable) again\b",
            r"\bin the office\b",
        ),
        "MDY",
    ),
    _Cue(
        _rx(
            r"\bde retour\b",
            r"\bretour\b",
            r"\brevien(?:s|drai)\b",
            r"\breprendrai\b",
            r"\brentrerai\b",
            r"\br[ée]ouverture\b",
            r"\b[àa] (?:partir|compter) du\b",
            r"\bd[èe]s le\b",
            r"\bserai (?:[àa] nouveau |de nouveau )?(?:disponible|joignable|pr[ée]sente?)\b",
        ),
        "DMY",
    ),
)
_UNTIL_CUES = (
    _Cue(_rx(r"\buntil\b", r"\btill?\b", r"\bfrom\s[^.;!?\n]{1,30}?\s(?:to|[-–])\s"), "MDY"),
    _Cue(_rx(r"\bthrough\b", r"\bthru\b"), "MDY", inclusive=True),
    _Cue(_rx(r"\bjusqu['’]\s?(?:au|[àa])\b", r"\bdu\s[^.;!?\n]{1,30}?\sau\b"), "DMY"),
)

_LANGUAGES = ["en", "fr"]  # dateparser's; the cue decides the numeric order, not the language

_INCLUDED = _rx(r"^[\s,()]*(?:inclus(?:e|ivement)?|included|inclusive)\b")

# A sentence ends at ! ? ; or a full stop followed by a space, or at a blank line.
_SENTENCE_END = re.compile(r"[!?;]|\.(?=\s|$)|\n\s*\n")

# "Dec. 7", "4 janv. 2027": the abbreviation's dot is not the end of the sentence, and
# dateparser's search reads "Jan. 4" as January alone.
_ABBREVIATION_DOT = _rx(
    r"\b(jan|feb|febr|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|janv|f[ée]vr?|avr|juil|d[ée]c"
    r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|lun|mer|jeu|ven|sam|dim)\."
)
_FRENCH_FIRST = re.compile(r"\b1er\b", re.IGNORECASE)  # "1er décembre": the search misses it

# dateparser's search sees dates in short words such as French "je" (jeudi) and in the digits
# of a phone number: a candidate needs a digit or a real word, and may not be a bare number
# (a lone day of the month, below, is the exception).
_DATE_LIKE = re.compile(r"\d|[^\W\d_]{4,}")
# "the 2nd", "le 15", "15": a day of the month alone.
_DAY_ONLY = re.compile(
    r"\s*(?:(?:on|the|le)\s+)*(\d{1,2})(?:st|nd|rd|th|er)?\b(?![/.:h-]\d)", re.IGNORECASE
)
_DAY_FIRST = {"DATE_ORDER": "DMY"}


def _return_date(own_subject: str, body: str, received: datetime) -> date | None:
    """The day the sender says they are back, or None.

    - Only the words right after a return cue are read, up to the end of that sentence, never
      the whole message: signatures, phone numbers and quoted headers are full of dates.
    - Explicit return cues ("back on", "returning", "de retour le", "à partir du") win over
      end-of-absence cues ("until", "jusqu'au", "from … to", "du … au"); subject before body.
    - "until X" means back on X: "away until the 15th" is back on the 15th. The absence may
      well cover the 15th itself, but resuming a morning early is harmless and the words do
      not say more. Only when the message says the day is included ("through Friday",
      "jusqu'au 5 janvier inclus") is the return date the day after.
    - Numbers are month/day after an English cue ("returning 12/01" = 1 December) and
      day/month after a French one ("jusqu'au 12/01" = 12 January).
    - A date without a year that has already passed is next year's; a day of the month alone
      ("the 15th") that has passed is next month's. A stated date before the day the message
      was received (a stale notice) gives no return date.
    - A month alone ("back in January") gives none either: there is no day to resume on.
    """
    texts = [_ABBREVIATION_DOT.sub(r"\1", text) for text in (own_subject, body)]
    for cues in (_RETURN_CUES, _UNTIL_CUES):
        for text in texts:
            hits = sorted(
                ((m.end(), cue) for cue in cues for m in cue.pattern.finditer(text)),
                key=lambda hit: hit[0],
            )
            for end, cue in hits:
                if found := _first_date(_rest_of_sentence(text, end), cue, received):
                    return found
    return None


def _rest_of_sentence(text: str, start: int) -> str:
    rest = text[start : start + 120]
    m = _SENTENCE_END.search(rest)
    # One line: the search does not join "lundi" and "4 janvier" across a line break.
    return _FRENCH_FIRST.sub("1", " ".join((rest[: m.start()] if m else rest).split()))


def _first_date(fragment: str, cue: _Cue, received: datetime) -> date | None:
    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": received.replace(tzinfo=None),
        "DATE_ORDER": cue.date_order,
    }
    for phrase, when in _candidates(fragment, settings):
        day = _roll_forward(when.date(), phrase, settings, received.date())
        if day is None:
            return None
        after = fragment[fragment.find(phrase) + len(phrase) :]
        if cue.inclusive or _INCLUDED.match(after):
            day += timedelta(days=1)
        return day
    return None


def _candidates(fragment: str, settings: dict[str, Any]) -> Iterator[tuple[str, datetime]]:
    """Dates in `fragment`, in reading order."""
    found: list[tuple[str, datetime | None]] = list(
        search_dates(fragment, languages=_LANGUAGES, settings=settings) or []
    )
    # "jusqu'au 15": the search may not report a lone number at all.
    lead = _DAY_ONLY.match(fragment)
    if lead and all(fragment.find(phrase) >= lead.end() for phrase, _ in found):
        found.insert(0, (lead.group(0), None))
    for phrase, when in found:
        if day := _DAY_ONLY.fullmatch(phrase):
            when = _parse_day_of_month(day.group(1), settings)
        elif phrase.strip().isdigit() or not _DATE_LIKE.search(phrase):
            continue
        elif _is_month_only(phrase, settings):
            continue
        if when is not None:
            yield phrase, when


def _parse_day_of_month(number: str, settings: dict[str, Any]) -> datetime | None:
    # A lone number is a day of the month in both languages; with the English month/day order
    # dateparser would read "2" (or "the 2nd") as February.
    return dateparser.parse(number, languages=_LANGUAGES, settings={**settings, **_DAY_FIRST})


def _has(phrase: str, part: str, settings: dict[str, Any]) -> bool:
    """Whether `phrase` states `part` ("day", "month", "year") rather than borrowing it.

    Read day first: only which parts are there matters, and "the 2nd" has no month.
    """
    parsed = dateparser.parse(
        phrase,
        languages=_LANGUAGES,
        settings={**settings, **_DAY_FIRST, "REQUIRE_PARTS": [part]},
    )
    return parsed is not None


def _is_month_only(phrase: str, settings: dict[str, Any]) -> bool:
    # "back in January": no day to resume on.
    return _has(phrase, "month", settings) and not _has(phrase, "day", settings)


def _roll_forward(day: date, phrase: str, settings: dict[str, Any], today: date) -> date | None:
    if day >= today:
        return day
    if not _has(phrase, "month", settings):  # "the 15th", already past: next month's
        for months_ahead in range(1, 12):
            month_index = day.month - 1 + months_ahead
            year, month = day.year + month_index // 12, month_index % 12 + 1
            try:
                return date(year, month, day.day)
            except ValueError:  # "the 31st" and a 30-day month: the one after
                continue
        return None
    if not _has(phrase, "year", settings):  # "March 3", already past: next year's
        try:
            return day.replace(year=day.year + 1)
        except ValueError:  # 29 February
            return None
    return None  # a stated date in the past: a stale notice, no return date
