"""Inbound messages as they reach a recruiter's mailbox, with the reading we expect of each.

Used by tests/domain/test_inbound.py and by `python -m bench.ooo_corpus`.

Most messages answer one of our outreach emails, so replies quote it below the answer. Dates are
relative to `received_at` (mostly Friday 20 November 2026). A case with `xfail` set is an honest
miss of the classifier today: it stays in the corpus, counts in the scores, and the test expects
it to fail (strictly, so a fix is noticed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from textwrap import dedent

from domain.inbound import ReplyClassification, ReplyKind

REPLY = ReplyKind.REPLY
OOO = ReplyKind.OUT_OF_OFFICE
AUTO = ReplyKind.AUTO_REPLY
BOUNCE = ReplyKind.BOUNCE

FRI_20_NOV = datetime(2026, 11, 20, 10, 14, tzinfo=UTC)  # a Friday
FRI_18_DEC = datetime(2026, 12, 18, 16, 40, tzinfo=UTC)  # the last Friday before Christmas
MON_23_NOV = datetime(2026, 11, 23, 8, 2, tzinfo=UTC)
FRI_20_FEB = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    id: str
    kind: ReplyKind
    subject: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    received_at: datetime = FRI_20_NOV
    return_date: date | None = None
    timezone: str = "UTC"
    xfail: str | None = None  # why the classifier reads this one wrongly today


def _t(text: str) -> str:
    return dedent(text).strip("\n") + "\n"


# Headers the big providers put on automatic replies.
GMAIL_VACATION = {"Auto-Submitted": "auto-replied", "Content-Type": "text/plain; charset=UTF-8"}
EXCHANGE_OOF = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
    "X-MS-Exchange-Inbox-Rules-Loop": "jane.doe@lumen-health.com",
    "Content-Type": "text/plain; charset=us-ascii",
}
OUTLOOK_OOF_ONLY = {"X-Auto-Response-Suppress": "All", "Content-Language": "fr-FR"}
PLAIN = {"Content-Type": "text/plain; charset=UTF-8", "MIME-Version": "1.0"}

# Our outreach, as replies quote it.
QUOTED_EN = _t("""
    On Mon, Nov 16, 2026 at 9:12 AM Sam Carter <sam@northwind-talent.com> wrote:
    > Hi Priya,
    >
    > I'm hiring a Staff Backend Engineer for Lumen Health (remote, EU hours). Are you free
    > for a 20-minute call on Nov 25 or Dec 2?
    >
    > Best,
    > Sam
""")
QUOTED_OUTLOOK = _t("""
    ________________________________
    From: Sam Carter <sam@northwind-talent.com>
    Sent: Monday, November 16, 2026 9:12 AM
    To: Jane Doe <jane.doe@lumen-health.com>
    Subject: Staff Backend Engineer at Lumen Health

    Hi Jane, are you open to a chat this week? I'll be back in touch on Dec 3 otherwise.
""")
QUOTED_FR = _t("""
    Le lun. 16 nov. 2026 à 10:12, Camille Martin <camille@northwind-talent.com> a écrit :
    > Bonjour Julien,
    >
    > Je recrute un Lead Développeur pour Qonto. Seriez-vous disponible le 25 novembre
    > pour en parler ?
    >
    > Camille
""")

S_EN = "Staff Backend Engineer at Lumen Health"
S_FR = "Poste de Lead Développeur chez Qonto"


OUT_OF_OFFICE_EN = [
    Case(
        "gmail-vacation-back-on-month-day",
        OOO,
        "Out of office",
        _t("""
            Hi,

            Thanks for your email. I'm out of the office and will be back on December 1.
            I'll have limited access to email in the meantime.

            Priya
        """),
        GMAIL_VACATION,
        return_date=date(2026, 12, 1),
    ),
    Case(
        "outlook-automatic-reply-returning-mdy",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            I am currently out of the office, returning 12/01. For urgent matters please contact
            Mark Ellis (mark.ellis@lumen-health.com).

            Jane Doe | Engineering Manager | Lumen Health
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 12, 1),
    ),
    Case(
        "pto-until-numeric",
        OOO,
        f"Re: {S_EN}",
        "I'm on PTO until 11/30 with no access to email. I will reply when I'm back.\n",
        {"Auto-Submitted": "auto-replied", "Precedence": "auto_reply"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "away-until-the-15th-next-month",
        OOO,
        "Away until the 15th",
        _t("""
            Hello! I'm away until the 15th and checking email only occasionally.
            Talk soon,
            Oliver
        """),
        {"X-Autoreply": "yes"},
        return_date=date(2026, 12, 15),
    ),
    Case(
        "sick-back-tomorrow",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            I'm out sick today and will be back in the office tomorrow.
            For anything urgent, call the front desk on +1 (415) 555-0142.
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 11, 21),
    ),
    Case(
        "back-next-monday",
        OOO,
        "Auto: Re: Quick question about your next move, Priya",
        "I'm currently travelling with patchy wifi. Back next Monday; I'll reply then.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 23),
    ),
    Case(
        "iso-return-date",
        OOO,
        "Out of Office",
        _t("""
            I am on annual leave.
            Return date: 2026-12-07

            Your message has not been forwarded. For urgent requests please write to
            it-support@acme.io.
        """),
        {"X-Autorespond": "Out of Office", "Content-Type": "text/plain"},
        return_date=date(2026, 12, 7),
    ),
    Case(
        "year-rollover-january",
        OOO,
        "Out of Office: Holidays",
        _t("""
            Happy holidays! I'm on vacation and will be back on January 4th.
            Emails will be read upon my return.
        """),
        GMAIL_VACATION,
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 4),
    ),
    Case(
        "explicit-year-weekday",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            Thank you for your message. I am out of the office with no access to email,
            returning Monday, January 4, 2027.

            Kind regards,
            Jane
        """),
        EXCHANGE_OOF,
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 4),
    ),
    Case(
        "through-friday-inclusive",
        OOO,
        "OOO",
        _t("""
            I'm OOO through Friday, November 27 (Thanksgiving week). I'll respond to your
            message after my return.
        """),
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 28),
    ),
    Case(
        "from-to-range",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            Hello,

            I will be out of the office from November 23 to November 27 with limited access
            to email. If your request is urgent, please contact my colleague Lisa Wong.

            Best regards,
            Daniel Kim
            Director of Talent Acquisition
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 11, 27),
    ),
    Case(
        "back-tomorrow-recipient-timezone",
        OOO,
        "Automatic reply: Head of Data — Series B fintech, Paris",
        "I'm off sick today. Back tomorrow.\n",
        {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "DR, RN, NRN, OOF"},
        # 23:30 UTC on Friday is already Saturday 00:30 in Paris: tomorrow is Sunday.
        received_at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
        timezone="Europe/Paris",
        return_date=date(2026, 11, 22),
    ),
    Case(
        "no-date-limited-access",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            I am currently out of the office with limited access to email.
            I will respond as soon as possible.
        """),
        EXCHANGE_OOF,
    ),
    Case(
        "parental-leave-month-only",
        OOO,
        "Out of office",
        _t("""
            Hi there, I'm on parental leave until March 2027. For anything related to
            engineering hiring please reach out to talent@lumen-health.com.
        """),
        GMAIL_VACATION,
    ),
    Case(
        "vacation-with-quoted-original",
        OOO,
        f"Re: {S_EN}",
        "I'm on vacation until November 30th with limited access to email.\n\n" + QUOTED_EN,
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "no-date-only-quoted-original-has-dates",
        OOO,
        f"Re: {S_EN}",
        "I'm currently on leave and not checking email.\n\n" + QUOTED_EN,
        {"Auto-Submitted": "auto-replied"},
    ),
    Case(
        "business-trip-until-weekday-date",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            I'm on a business trip until Wednesday 25 November with intermittent access to
            email. I'll get back to you as soon as I can.
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 11, 25),
    ),
    Case(
        "ooo-subject-until-date",
        OOO,
        "OOO until 12/3",
        "OOO, back 12/3. If urgent text me.\n\n-- \nMarcus\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 12, 3),
    ),
    Case(
        "offices-closed-reopen",
        OOO,
        "Thanksgiving closure",
        _t("""
            Thank you for contacting Brightline Recruiting. Our offices are closed for the
            Thanksgiving holiday and will reopen on Monday, November 30. Messages will be
            answered in the order received.
        """),
        {"Auto-Submitted": "auto-generated", "Precedence": "bulk"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "abbreviated-month-with-dot",
        OOO,
        f"Automatic reply: {S_EN}",
        "Out of the office until Dec. 7. Please expect a delayed response.\n",
        EXCHANGE_OOF,
        return_date=date(2026, 12, 7),
    ),
    Case(
        "away-from-desk-weekday-numeric",
        OOO,
        "Autoreply",
        "Hi - I'm away from my desk until Monday 11/30 and will answer then. Thanks!\n",
        {"X-Autoreply": "true"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "uk-annual-leave-ordinal",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            Hi,

            Thanks for getting in touch. I'm out of the office on annual leave, returning
            Tuesday 1st December. If your query is urgent, please email hello@ferns.co.uk.

            Many thanks,
            Amelia
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 12, 1),
    ),
    Case(
        "stale-notice-explicit-past-date",
        OOO,
        "Out of Office",
        _t("""
            I am out of the office until November 13, 2026 with limited access to email.
        """),
        GMAIL_VACATION,
        # The sender forgot to switch it off: the stated date has passed, so no return date.
    ),
    Case(
        "back-on-the-2nd",
        OOO,
        f"Automatic reply: {S_EN}",
        "I'm at a conference in Lisbon this week. Back in the office on the 2nd.\n",
        EXCHANGE_OOF,
        return_date=date(2026, 12, 2),
    ),
    Case(
        "back-monday-plain-weekday",
        OOO,
        "Out of office",
        "I'm out until Monday. I'll reply to your email then.\n\nSent from my iPhone\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 23),
    ),
    Case(
        "next-week",
        OOO,
        "Out of office",
        "Hi, I'm on holiday this week and back next week. Speak soon!\n",
        GMAIL_VACATION,
        return_date=date(2026, 11, 23),
        xfail="dateparser reads 'next week' as seven days on (Friday 27), not the next Monday",
    ),
    Case(
        "hyphen-range-without-cue",
        OOO,
        f"Automatic reply: {S_EN}",
        "Out of office Nov 23–27, limited email. Urgent: ops@lumen-health.com\n",
        EXCHANGE_OOF,
        return_date=date(2026, 11, 27),
        xfail="a bare 'Nov 23–27' range has no until/to/back cue, so no date is read",
    ),
    Case(
        "precedence-auto-reply-conference",
        OOO,
        f"Re: {S_EN}",
        _t("""
            Thank you for your email. I'm attending a conference until Thursday, November 26
            and will respond when I return.
        """),
        {"Precedence": "auto_reply"},
        return_date=date(2026, 11, 26),
    ),
    Case(
        "maternity-leave-no-date",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            I am on maternity leave. Your email will not be forwarded.
            Please contact recruiting@lumen-health.com for hiring questions.
        """),
        EXCHANGE_OOF,
    ),
    Case(
        "outlook-subject-only-no-headers",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            Hello, I am not in the office until Tuesday, December 1, 2026.
            Thank you, Jane
        """),
        PLAIN,
        return_date=date(2026, 12, 1),
    ),
    Case(
        "template-without-headers",
        OOO,
        f"RE: {S_EN}",
        _t("""
            I am currently out of the office and will return on 12/07/2026. For urgent
            matters please contact my assistant at +44 20 7946 0958.
        """),
        PLAIN,
        return_date=date(2026, 12, 7),
    ),
    Case(
        "only-a-return-phrase",
        OOO,
        f"Automatic reply: {S_EN}",
        "I'll be back in the office on Monday (30th November).\n",
        EXCHANGE_OOF,
        return_date=date(2026, 11, 30),
    ),
    Case(
        "holiday-ordinal-before-month-emoji",
        OOO,
        f"Re: {S_EN}",
        "Hi! I'm currently on holiday in Japan 🇯🇵 until 2nd December. I'll reply when I'm back.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 12, 2),
    ),
    Case(
        "earlier-dates-then-returning",
        OOO,
        f"Automatic reply: {S_EN}",
        _t("""
            I'm out of the office Thursday 11/26 and Friday 11/27 for the Thanksgiving holiday,
            returning Monday 11/30.
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 11, 30),
    ),
    Case(
        "dotted-day-month-year-after-english-cue",
        OOO,
        "Abwesenheitsnotiz / Out of office",
        "Hello, I am away on business until 30.11.2026. Best regards, Jonas\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "until-after-new-year-no-date",
        OOO,
        f"Automatic reply: {S_EN}",
        "I'm out of office with no access to email until after the New Year.\n",
        EXCHANGE_OOF,
        received_at=FRI_18_DEC,
    ),
    Case(
        "out-of-office-one-line-no-signal",
        OOO,
        f"Re: {S_EN}",
        "Out of the office until Monday.\n",
        PLAIN,
        return_date=date(2026, 11, 23),
        xfail=(
            "no header, no auto-reply subject, no template wording: it reads exactly like "
            "a person's one-line answer"
        ),
    ),
]

OUT_OF_OFFICE_FR = [
    Case(
        "fr-jusquau-inclus",
        OOO,
        f"Réponse automatique : {S_FR}",
        _t("""
            Bonjour,

            Je suis absente du bureau jusqu'au 5 janvier inclus. Pour toute urgence, merci de
            contacter Sophie Bernard (sophie.bernard@qonto.com).

            Cordialement,
            Claire Dubois
        """),
        EXCHANGE_OOF,
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 6),
    ),
    Case(
        "fr-jusquau-without-inclus",
        OOO,
        "Absence du bureau",
        "Bonjour, je suis en congés jusqu'au 5 janvier. Bonnes fêtes !\n",
        GMAIL_VACATION,
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 5),
    ),
    Case(
        "fr-de-retour-le-3-mars",
        OOO,
        f"Réponse automatique : {S_FR}",
        _t("""
            Bonjour,
            Je suis actuellement en congés et serai de retour le 3 mars.
            Je prendrai connaissance de votre message à mon retour.
            Bien à vous,
            Julien
        """),
        EXCHANGE_OOF,
        received_at=FRI_20_FEB,
        return_date=date(2026, 3, 3),
    ),
    Case(
        "fr-retour-lundi-date",
        OOO,
        "Réponse automatique",
        "Je suis en congés et serai de retour le lundi 30 novembre.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "fr-numeric-day-month-rollover",
        OOO,
        f"Absent : {S_FR}",
        "Je suis absent jusqu'au 12/01. Accès limité à mes e-mails.\n",
        {"Auto-Submitted": "auto-replied"},
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 12),
    ),
    Case(
        "fr-deplacement-demain",
        OOO,
        f"Réponse automatique : {S_FR}",
        "Je suis en déplacement aujourd'hui, de retour demain au bureau.\n",
        OUTLOOK_OOF_ONLY,
        timezone="Europe/Paris",
        return_date=date(2026, 11, 21),
    ),
    Case(
        "fr-lundi-prochain",
        OOO,
        "Message d'absence",
        "Bonjour, je suis en formation toute la semaine. De retour lundi prochain.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 23),
    ),
    Case(
        "fr-1er-decembre",
        OOO,
        f"Réponse automatique : {S_FR}",
        _t("""
            Bonjour,

            Je suis absent(e) du bureau et serai de retour le 1er décembre.
            En cas d'urgence, vous pouvez joindre le standard au 01 23 45 67 89.
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 12, 1),
    ),
    Case(
        "fr-conge-maternite-no-date",
        OOO,
        "Absence du bureau",
        _t("""
            Bonjour,
            Je suis actuellement en congé maternité. Pour toute question concernant le
            recrutement, merci d'écrire à rh@qonto.com.
        """),
        {"Auto-Submitted": "auto-replied"},
    ),
    Case(
        "fr-du-au-inclus",
        OOO,
        f"Réponse automatique : {S_FR}",
        _t("""
            Bonjour,
            Je serai absent du lundi 21 au mardi 29 décembre inclus, sans accès à mes e-mails.
            Joyeuses fêtes !
        """),
        EXCHANGE_OOF,
        received_at=FRI_18_DEC,
        return_date=date(2026, 12, 30),
    ),
    Case(
        "fr-formation-jusqua-vendredi-date",
        OOO,
        "Réponse automatique d'absence",
        "Je suis en formation jusqu'au vendredi 27 novembre. Merci de votre compréhension.\n",
        {"X-Autoreply": "yes"},
        return_date=date(2026, 11, 27),
    ),
    Case(
        "fr-disponible-a-partir-du",
        OOO,
        f"Réponse automatique : {S_FR}",
        _t("""
            Bonjour, je suis actuellement en congés. Je serai de nouveau disponible à partir du
            7 décembre. Bonne journée !
        """),
        EXCHANGE_OOF,
        return_date=date(2026, 12, 7),
    ),
    Case(
        "fr-rtt-demain-paris",
        OOO,
        "Absente",
        "Je suis en RTT aujourd'hui, de retour demain.\n",
        {"Auto-Submitted": "auto-replied"},
        timezone="Europe/Paris",
        return_date=date(2026, 11, 21),
    ),
    Case(
        "fr-en-bilingual-canada",
        OOO,
        f"Réponse automatique / Automatic reply: {S_EN}",
        _t("""
            Je suis absent du bureau jusqu'au 4 janvier 2027. / I am out of the office until
            January 4, 2027.

            Marc-André Tremblay
            Gestionnaire, Acquisition de talents | Talent Acquisition Manager
        """),
        EXCHANGE_OOF,
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 4),
    ),
    Case(
        "fr-retour-prevu-numeric-full",
        OOO,
        "Message d'absence",
        "Bonjour, je suis en congés. Retour prévu le 02/12/2026.\n\nÉlodie\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 12, 2),
    ),
    Case(
        "fr-quoted-original-with-date-no-return",
        OOO,
        f"Re: {S_FR}",
        "Bonjour, je suis absent du bureau en ce moment.\n\n" + QUOTED_FR,
        {"Auto-Submitted": "auto-replied"},
    ),
    Case(
        "fr-iso-date",
        OOO,
        "Réponse automatique",
        "Je suis en vacances. De retour le 2026-12-07.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 12, 7),
    ),
    Case(
        "fr-jusqua-lundi",
        OOO,
        f"Réponse automatique : {S_FR}",
        "Bonjour, je suis en déplacement jusqu'à lundi. Je vous répondrai dès mon retour.\n",
        OUTLOOK_OOF_ONLY,
        return_date=date(2026, 11, 23),
    ),
    Case(
        "fr-jusquau-15-day-only",
        OOO,
        "Absence",
        "Je suis absente jusqu'au 15, merci de votre patience.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 12, 15),
    ),
    Case(
        "fr-no-accents-mobile",
        OOO,
        "Reponse automatique",
        "je suis en conges jusqu'au 30/11, acces limite a mes mails\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 30),
    ),
    Case(
        "fr-subject-absent-jusquau",
        OOO,
        "Absente jusqu'au 27/11",
        "Bonjour, je suis absente du bureau. Merci.\n",
        PLAIN,
        return_date=date(2026, 11, 27),
    ),
    Case(
        "fr-template-without-headers",
        OOO,
        f"RE: {S_FR}",
        _t("""
            Bonjour,
            Je suis absent du bureau jusqu'au 30 novembre avec un accès limité à mes e-mails.
            Cordialement,
            Thomas
        """),
        PLAIN,
        return_date=date(2026, 11, 30),
    ),
    Case(
        "fr-du-au-numeric-inclus",
        OOO,
        "Réponse automatique",
        "Bonjour, je suis absente du 23/11 au 27/11 inclus. Bonne journée.\n",
        {"Auto-Submitted": "auto-replied"},
        return_date=date(2026, 11, 28),
    ),
    Case(
        "fr-fin-du-mois-no-date",
        OOO,
        f"Réponse automatique : {S_FR}",
        "Bonjour, je serai absente jusqu'à la fin du mois. Merci de votre compréhension.\n",
        OUTLOOK_OOF_ONLY,
    ),
    Case(
        "fr-bureaux-fermes",
        OOO,
        "Fermeture annuelle",
        _t("""
            Bonjour,
            Nos bureaux sont fermés pour les fêtes de fin d'année. Réouverture le lundi
            4 janvier. Ceci est un message automatique.
        """),
        {"Auto-Submitted": "auto-generated"},
        received_at=FRI_18_DEC,
        return_date=date(2027, 1, 4),
    ),
]

BOUNCES = [
    Case(
        "postfix-user-unknown",
        BOUNCE,
        "Undelivered Mail Returned to Sender",
        _t("""
            This is the mail system at host mx1.northwind-talent.com.

            I'm sorry to have to inform you that your message could not
            be delivered to one or more recipients. It's attached below.

            <j.doe@lumen-health.com>: host mx.lumen-health.com[203.0.113.7] said: 550 5.1.1
                <j.doe@lumen-health.com>: Recipient address rejected: User unknown in virtual
                mailbox table (in reply to RCPT TO command)
        """),
        {
            "Content-Type": 'multipart/report; report-type=delivery-status; boundary="B1"',
            "Auto-Submitted": "auto-replied",
        },
    ),
    Case(
        "gmail-address-not-found",
        BOUNCE,
        "Delivery Status Notification (Failure)",
        _t("""
            ** Address not found **

            Your message wasn't delivered to priya.s@gmial.com because the address couldn't be
            found, or is unable to receive mail.

            The response from the remote server was:
            550 5.1.1 The email account that you tried to reach does not exist.
        """),
        {"X-Failed-Recipients": "priya.s@gmial.com", "Auto-Submitted": "auto-replied"},
    ),
    Case(
        "gmail-delay-soft",
        BOUNCE,
        "Delivery Status Notification (Delay)",
        _t("""
            ** Delivery incomplete **

            There was a temporary problem delivering your message to oliver@ferns.co.uk.
            Gmail will retry for 46 more hours. You'll be notified if the delivery fails
            permanently.

            The response was:
            421 4.7.0 Try again later, closing connection.
        """),
        {"Auto-Submitted": "auto-replied"},
    ),
    Case(
        "exchange-ndr-recipient-not-found",
        BOUNCE,
        f"Undeliverable: {S_EN}",
        _t("""
            Delivery has failed to these recipients or groups:

            jane.doe@lumen-health.com
            The email address you entered couldn't be found. Please check the recipient's email
            address and try to resend the message.

            Diagnostic information for administrators:
            Generating server: AM6PR01MB1234.eurprd01.prod.outlook.com
            Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
            found by SMTP address lookup'
        """),
        {"X-MS-Exchange-Message-Is-Ndr": "", "Content-Type": "multipart/report"},
    ),
    Case(
        "exim-mailbox-full",
        BOUNCE,
        "Mail delivery failed: returning message to sender",
        _t("""
            This message was created automatically by mail delivery software.

            A message that you sent could not be delivered to one or more of its
            recipients. This is a temporary error. The following address(es) deferred:

              marcus@studio-bleu.fr
                mailbox is full: retry timeout exceeded
                SMTP error from remote mail server after RCPT TO:<marcus@studio-bleu.fr>:
                452 4.2.2 Mailbox full
        """),
        {"X-Failed-Recipients": "marcus@studio-bleu.fr"},
    ),
    Case(
        "dsn-mentions-away-and-dates",
        BOUNCE,
        "Mail delivery failed",
        _t("""
            The recipient may be away: the mailbox has been over quota since Mon, 9 Nov 2026
            and will be checked again on Nov 30.

            Final-Recipient: rfc822; oliver@ferns.co.uk
            Action: failed
            Status: 5.2.2
            Diagnostic-Code: smtp; 552 5.2.2 Mailbox over quota
            Last-Attempt-Date: Fri, 20 Nov 2026 10:13:55 +0000
        """),
        {"Auto-Submitted": "auto-replied", "Content-Type": "multipart/report"},
    ),
    Case(
        "exchange-fr-non-remis",
        BOUNCE,
        f"Non remis : {S_FR}",
        _t("""
            Échec de la remise à ces destinataires ou groupes :

            julien.morel@qonto.com
            L'adresse e-mail que vous avez entrée est introuvable. Vérifiez l'adresse e-mail
            du destinataire et essayez de renvoyer le message.

            Informations de diagnostic pour les administrateurs :
            Le serveur distant a retourné '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
        """),
        {"X-MS-Exchange-Message-Is-Ndr": ""},
    ),
    Case(
        "qmail-failure-notice",
        BOUNCE,
        "failure notice",
        _t("""
            Hi. This is the qmail-send program at mail.studio-bleu.fr.
            I'm afraid I wasn't able to deliver your message to the following addresses.
            This is a permanent error; I've given up. Sorry it didn't work out.

            <anne@studio-bleu.fr>:
            552 5.2.2 sorry, anne is on vacation and her mailbox is full
        """),
        {},
    ),
    Case(
        "sendmail-returned-mail",
        BOUNCE,
        "Returned mail: see transcript for details",
        _t("""
            The original message was received at Fri, 20 Nov 2026 10:12:40 GMT
            from mail.northwind-talent.com [198.51.100.4]

               ----- The following addresses had permanent fatal errors -----
            <d.kim@brightline.io>
                (reason: 550 5.7.1 Message rejected as spam by Content Filtering)
        """),
        {"Precedence": "bulk"},
    ),
    Case(
        "exchange-delayed-with-date",
        BOUNCE,
        f"Delayed: {S_EN}",
        _t("""
            Delivery is delayed to these recipients or groups:

            jane.doe@lumen-health.com

            Subject: Staff Backend Engineer at Lumen Health

            This message hasn't been delivered yet. Delivery will continue to be attempted.
            The server will keep trying to deliver this message for the next 1 days, 19 hours
            and 51 minutes. You'll be notified if the message can't be delivered by that time.
            Status: 4.4.7
        """),
        {"Auto-Submitted": "auto-replied"},
    ),
    Case(
        "bounce-of-subject-saying-away",
        BOUNCE,
        "Undeliverable: Away from your desk? A remote-first role at Ferns",
        _t("""
            Your message to oliver@ferns.co.uk couldn't be delivered.
            oliver wasn't found at ferns.co.uk.
            Status code 550 5.1.1
        """),
        {},
    ),
    Case(
        "mail-delivery-subsystem-policy",
        BOUNCE,
        "Message blocked",
        _t("""
            Your message to priya@lumen-health.com has been blocked. See technical details
            below for more information.

            The response from the remote server was:
            550 5.7.1 Unauthenticated email is not accepted from this domain.
        """),
        {},
    ),
    Case(
        "yahoo-failure-notice",
        BOUNCE,
        "Failure Notice",
        _t("""
            Sorry, we were unable to deliver your message to the following address.

            <marcus.lee@yahoo.com>:
            554: delivery error: dd This user doesn't have a yahoo.com account
            (marcus.lee@yahoo.com) [0] - mta1234.mail.ir2.yahoo.com
        """),
        {},
    ),
    Case(
        "dsn-with-returned-ooo-text",
        BOUNCE,
        "Delivery Status Notification (Failure)",
        _t("""
            Delivery to the following recipient failed permanently:

                 camille@agence-lune.fr

            ----- Original message -----
            Je suis absente du bureau jusqu'au 30 novembre.
        """),
        {"Auto-Submitted": "auto-replied"},
    ),
]

AUTO_REPLIES = [
    Case(
        "helpdesk-ticket-created",
        AUTO,
        f"[Request #48213] Re: {S_EN}",
        _t("""
            Hello,

            We have received your request (#48213) and one of our agents will get back to you
            within 2 business days.

            -- Lumen Health Support
        """),
        {"Auto-Submitted": "auto-generated"},
    ),
    Case(
        "thanks-for-contacting-automated",
        AUTO,
        f"Re: {S_EN}",
        _t("""
            Thank you for contacting Acme Talent. This is an automated response: we reply to
            every message within 48 hours.
        """),
        {"X-Autoreply": "yes"},
    ),
    Case(
        "no-longer-with-company",
        AUTO,
        f"Automatic reply: {S_EN}",
        _t("""
            Jane Doe is no longer with Lumen Health. For engineering questions please contact
            eng-leads@lumen-health.com. This mailbox is not monitored.
        """),
        EXCHANGE_OOF,
    ),
    Case(
        "fr-accuse-de-reception-no-headers",
        AUTO,
        "Accusé de réception",
        _t("""
            Bonjour,
            Nous avons bien reçu votre message et vous répondrons dans les meilleurs délais.
            Ceci est un message automatique, merci de ne pas y répondre.
        """),
        PLAIN,
    ),
    Case(
        "read-receipt",
        AUTO,
        f"Read: {S_EN}",
        _t("""
            Your message

              To: jane.doe@lumen-health.com
              Subject: Staff Backend Engineer at Lumen Health
              Sent: Monday, November 16, 2026 9:12:04 AM (UTC+00:00)

            was read on Friday, November 20, 2026 10:13:51 AM (UTC+00:00).
        """),
        {"Content-Type": "multipart/report; report-type=disposition-notification"},
    ),
    Case(
        "noreply-precedence-junk",
        AUTO,
        "We got your email",
        _t("""
            This inbox is not monitored. Please do not reply to this email; apply through
            careers.brightline.io instead.
        """),
        {"Precedence": "junk"},
    ),
    Case(
        "office-hours-autoresponder-with-date",
        AUTO,
        f"Re: {S_EN}",
        _t("""
            Thanks for your message! Our office hours are Monday to Friday, 9am–6pm CET.
            We'll reply by Monday, November 23 at the latest.
        """),
        {"Auto-Submitted": "auto-replied"},
    ),
    Case(
        "ticket-with-dates",
        AUTO,
        "Ticket #99120 created",
        _t("""
            Your ticket was created on 20 Nov 2026. Expected response by November 24.
            Ticket number: 99120
        """),
        {"Auto-Submitted": "auto-generated", "Precedence": "bulk"},
    ),
    Case(
        "new-address-autoreply",
        AUTO,
        "Auto-Reply: new address",
        _t("""
            Please note my new email address: priya.sharma@lumen.health
            This address will stop working on December 31.
        """),
        {"X-Autoreply": "yes"},
    ),
    Case(
        "fr-reponse-automatique-generique",
        AUTO,
        f"Réponse automatique : {S_FR}",
        _t("""
            Bonjour,
            Merci pour votre message. Notre équipe vous répondra sous 48 heures ouvrées.
            L'équipe Qonto
        """),
        OUTLOOK_OOF_ONLY,
    ),
]

REPLIES = [
    Case(
        "reply-lets-talk-on-june-15",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            Hi Sam,

            Thanks for reaching out! I'm interested, but this month is busy. Let's talk on
            June 15 — does 10am work for you?

            Best,
            Priya

            --
            Priya Sharma | Senior Engineer
        """)
        + "\n"
        + QUOTED_EN,
        PLAIN,
    ),
    Case(
        "reply-free-next-monday",
        REPLY,
        f"Re: {S_EN}",
        "I'm free next Monday afternoon, after 2pm. Send me an invite?\n\n" + QUOTED_EN,
        PLAIN,
    ),
    Case(
        "reply-mentions-office",
        REPLY,
        f"RE: {S_EN}",
        _t("""
            Happy to chat. I'm in the office Tuesday and Thursday; call my office line
            on +1 415 555 0199 any time after 10.

            Jane
        """)
        + QUOTED_OUTLOOK,
        {"X-MS-Has-Attach": "", "Thread-Topic": S_EN, "Content-Language": "en-US"},
    ),
    Case(
        "reply-was-out-of-office-last-week",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            Sorry for the slow reply, I was out of office last week. Sure, let's set up a call
            on 12/3 — mornings work best.
        """)
        + QUOTED_EN,
        PLAIN,
    ),
    Case(
        "reply-fr-conges-semaine-prochaine",
        REPLY,
        f"Re: {S_FR}",
        _t("""
            Bonjour Camille,

            Merci pour votre message. Je suis en congés la semaine prochaine, mais on peut
            s'appeler le 3 décembre ?

            Julien
        """)
        + QUOTED_FR,
        PLAIN,
    ),
    Case(
        "reply-fr-pas-interesse",
        REPLY,
        f"RE: {S_FR}",
        "Bonjour, je ne suis pas intéressé, merci.\n\n" + QUOTED_FR,
        PLAIN,
    ),
    Case(
        "reply-quotes-earlier-automatic-reply",
        REPLY,
        f"RE: Automatic reply: {S_EN}",
        _t("""
            Sorry about my out of office message, I'm back now. Let's talk Thursday at 3?

            Jane
            ________________________________
            From: Jane Doe
            Sent: Monday, November 16, 2026 9:13 AM
            To: Sam Carter
            Subject: Automatic reply: Staff Backend Engineer at Lumen Health

            I am currently out of the office with limited access to email, returning 11/20.
        """),
        {"Content-Language": "en-US"},
    ),
    Case(
        "reply-signature-out-of-office-fridays",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            Hi Sam — yes, I'd like to hear more. Could you send the job description?

            Thanks,
            Oliver
            --
            Oliver Hughes, Platform Lead
            I work a 4-day week and I'm out of the office on Fridays.
        """),
        PLAIN,
    ),
    Case(
        "reply-not-interested-remove-me",
        REPLY,
        f"Re: {S_EN}",
        "Not interested, please remove me from your list.\n\n" + QUOTED_EN,
        PLAIN,
    ),
    Case(
        "reply-auto-submitted-no",
        REPLY,
        f"Re: {S_EN}",
        "Sounds good — Tuesday 10am works. Talk then.\n",
        {"Auto-Submitted": "no", "Content-Type": "text/plain"},
    ),
    Case(
        "reply-vacation-until-but-interested",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            Hey Sam, I'm on vacation until June 15 but happy to chat after that. Could you
            send me the salary range in the meantime?

            Sent from my iPhone
        """),
        PLAIN,
    ),
    Case(
        "reply-fr-de-retour-le",
        REPLY,
        f"Re: {S_FR}",
        "Je serai de retour le 3 décembre, on en parle à ce moment-là ?\n\n" + QUOTED_FR,
        PLAIN,
    ),
    Case(
        "reply-mobile-numeric-date",
        REPLY,
        f"Re: {S_EN}",
        "Can we do 11/30? I'm travelling until then.\n\nSent from Outlook for iOS\n",
        {"X-MS-Has-Attach": ""},
    ),
    Case(
        "reply-quoted-original-says-vacation",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            Yes, now is a good time actually. Call me tomorrow?

            On Mon, Nov 16, 2026 at 9:12 AM Sam Carter <sam@northwind-talent.com> wrote:
            > Hi Marcus, I know you might be on vacation or out of the office until the
            > holidays are over, so no rush. Are you open to a new role?
        """),
        PLAIN,
    ),
    Case(
        "reply-fr-back-from-holiday",
        REPLY,
        f"RE: {S_FR}",
        _t("""
            Bonjour Camille,
            Je rentre de vacances, désolé pour le délai. Le poste m'intéresse : êtes-vous
            disponible jeudi 26 novembre à 14h ?
            Cordialement,
            Thomas Petit
        """)
        + QUOTED_FR,
        PLAIN,
    ),
    Case(
        "reply-leaving-office-early",
        REPLY,
        f"Re: {S_EN}",
        "Got it, thanks. I'm leaving the office early today, can we talk Monday?\n",
        PLAIN,
    ),
    Case(
        "reply-out-next-week-free-on-the-30th",
        REPLY,
        f"Re: {S_EN}",
        "Hey — I'm out of office next week but free on the 30th, can we do 2pm?\n\n" + QUOTED_EN,
        PLAIN,
    ),
    Case(
        "reply-vacation-but-urgent-for-me",
        REPLY,
        f"Re: {S_EN}",
        "I'm on vacation, but this is urgent for me — call me tomorrow at 9? 06 12 34 56 78\n",
        PLAIN,
    ),
    Case(
        "reply-ill-be-back-monday",
        REPLY,
        f"Re: {S_EN}",
        "Interesting! I'll be back Monday, let's talk then.\n\nOliver\n",
        PLAIN,
    ),
    Case(
        "reply-ooo-template-but-written-by-a-person",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            I'm on vacation with limited access to email, but I'd love to hear more —
            can you send details? I'll read them on the beach.
        """),
        PLAIN,
        xfail=(
            "an absence phrase plus template wording ('limited access to email') with no "
            "header is taken for an out-of-office"
        ),
    ),
    Case(
        "reply-referral-to-colleague",
        REPLY,
        f"Re: {S_EN}",
        _t("""
            Not for me, but my colleague Ana (ana@lumen-health.com) is looking — she's back
            from parental leave on January 4 and would love to hear from you.
        """),
        PLAIN,
    ),
]

CORPUS: list[Case] = [
    *OUT_OF_OFFICE_EN,
    *OUT_OF_OFFICE_FR,
    *BOUNCES,
    *AUTO_REPLIES,
    *REPLIES,
]


# ---- scores ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    counts: dict[ReplyKind, int]  # expected kind → number of messages
    ooo_precision: float  # of the messages read as out-of-office, how many are
    ooo_recall: float  # of the out-of-office messages, how many are read as such
    date_accuracy: float  # of the out-of-office messages read as such, right return date
    misses: list[tuple[Case, ReplyClassification]]  # wrong kind or wrong date


Classifier = Callable[[Case], ReplyClassification]


def score(cases: list[Case], classify: Classifier) -> Scores:
    results = [(case, classify(case)) for case in cases]
    predicted_ooo = [(c, r) for c, r in results if r.kind is OOO]
    true_ooo = [(c, r) for c, r in results if c.kind is OOO]
    hits = [(c, r) for c, r in predicted_ooo if c.kind is OOO]
    right_date = [c for c, r in hits if r.return_date == c.return_date]
    counts: dict[ReplyKind, int] = {}
    for case in cases:
        counts[case.kind] = counts.get(case.kind, 0) + 1
    return Scores(
        counts=counts,
        ooo_precision=len(hits) / len(predicted_ooo) if predicted_ooo else 1.0,
        ooo_recall=len(hits) / len(true_ooo) if true_ooo else 1.0,
        date_accuracy=len(right_date) / len(hits) if hits else 1.0,
        misses=[
            (c, r) for c, r in results if r.kind is not c.kind or r.return_date != c.return_date
        ],
    )
