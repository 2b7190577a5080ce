"""Signed unsubscribe tokens: the only credential the one-click endpoint accepts."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.unsubscribe import make_token, read_token, unsubscribe_url

SECRET = b"a-secret-of-the-deployment"


def test_round_trip() -> None:
    token = make_token(SECRET, "acme", "ada@example.com")
    assert read_token(SECRET, token) == ("acme", "ada@example.com")


def test_url_safe_and_deterministic() -> None:
    token = make_token(SECRET, "acme", "ada+sales@example.com")
    assert token == make_token(SECRET, "acme", "ada+sales@example.com")  # no expiry, no nonce
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_email_is_case_insensitive() -> None:
    upper = make_token(SECRET, "acme", "  Ada.Lovelace@Example.COM ")
    assert upper == make_token(SECRET, "acme", "ada.lovelace@example.com")
    assert read_token(SECRET, upper) == ("acme", "ada.lovelace@example.com")


def test_workspace_is_bound() -> None:
    acme = make_token(SECRET, "acme", "ada@example.com")
    globex = make_token(SECRET, "globex", "ada@example.com")
    assert acme != globex
    # The signature of one workspace's token does not carry over to another's payload.
    swapped = globex.split(".")[0] + "." + acme.split(".")[1]
    assert read_token(SECRET, swapped) is None


def test_a_forged_payload_is_rejected() -> None:
    token = make_token(SECRET, "acme", "ada@example.com")
    signature = token.split(".")[1]
    forged = base64.urlsafe_b64encode(json.dumps(["globex", "ada@example.com"]).encode())
    assert read_token(SECRET, forged.decode().rstrip("=") + "." + signature) is None


def test_every_one_character_change_is_rejected() -> None:
    token = make_token(SECRET, "acme", "ada@example.com")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(token):
        if char == ".":
            continue
        for other in alphabet:  # including the base64 "unused bits" of the last characters
            if other != char:
                tampered = token[:index] + other + token[index + 1 :]
                assert read_token(SECRET, tampered) is None, (index, other)


def test_another_secret_is_rejected() -> None:
    token = make_token(SECRET, "acme", "ada@example.com")
    assert read_token(b"another-secret", token) is None
    assert read_token(b"", token) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "not a token",
        "é.é",
        "abc.def\n",
        "x" * 5000,
        "%2e%2e%2f.abc",
    ],
)
def test_garbage_is_rejected(garbage: str) -> None:
    assert read_token(SECRET, garbage) is None


def test_truncated_or_extended_tokens_are_rejected() -> None:
    token = make_token(SECRET, "acme", "ada@example.com")
    assert read_token(SECRET, token[:-1]) is None
    assert read_token(SECRET, token + "A") is None
    assert read_token(SECRET, token + "=") is None
    assert read_token(SECRET, "A" + token) is None


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert read_token(SECRET, text) is None


@given(
    workspace=st.text(min_size=1, max_size=40),
    email=st.emails(),
)
def test_round_trip_for_any_workspace_and_address(workspace: str, email: str) -> None:
    token = make_token(SECRET, workspace, email)
    assert read_token(SECRET, token) == (workspace, email.strip().lower())
    assert read_token(SECRET + b"!", token) is None


def test_empty_inputs_make_no_token() -> None:
    with pytest.raises(ValueError):
        make_token(b"", "acme", "ada@example.com")
    with pytest.raises(ValueError):
        make_token(SECRET, "", "ada@example.com")
    with pytest.raises(ValueError):
        make_token(SECRET, "acme", "  ")


def test_unsubscribe_url() -> None:
    token = make_token(SECRET, "acme", "ada@example.com")
    expected = f"https://api.example.com/v1/unsubscribe/{token}"
    assert unsubscribe_url("https://api.example.com/", token) == expected
    assert unsubscribe_url("https://api.example.com", token) == expected
