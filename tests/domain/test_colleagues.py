"""Who is a colleague of whom (domain/colleagues.py)."""

from __future__ import annotations

import pytest

from domain.colleagues import colleagues, work_domain


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ((None, "ada@acme.com"), (None, "bob@acme.com"), True),
        ((None, "ada@ACME.com"), (None, "bob@acme.com."), True),
        ((None, "ada@gmail.com"), (None, "bob@gmail.com"), False),  # free mail: strangers
        ((None, "ada@acme.com"), (None, "bob@acme.co.uk"), False),
        (("Acme", "ada@gmail.com"), ("  acme ", "bob@outlook.com"), True),  # both name one
        (("Acme", "ada@acme.com"), ("Globex", "bob@acme.com"), False),  # both name: it decides
        (("Acme", "ada@acme.com"), (None, "bob@acme.com"), True),  # one does not: the domain
        ((None, None), (None, "bob@acme.com"), False),
    ],
)
def test_colleagues(a: tuple, b: tuple, same: bool) -> None:
    assert colleagues(a[0], a[1], b[0], b[1]) is same
    assert colleagues(b[0], b[1], a[0], a[1]) is same


def test_work_domain_is_none_for_free_mail_and_non_addresses() -> None:
    assert work_domain("x@yahoo.fr") is None and work_domain("not-an-address") is None
    assert work_domain("x@seqflow.dev") == "seqflow.dev"
