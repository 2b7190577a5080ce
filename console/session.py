"""Who is signed in: a signed, http-only, SameSite=Lax cookie naming the workspace and user of
the API key used to sign in (never the key itself), with a CSRF token for every form.

The cookie is signed with the token secret under a purpose of its own; it lasts 12 hours and
is checked against the configured keys on every request, so removing a key signs its
sessions out. A one-time sign-in link (`make run` prints one) is signed the same way, lives
10 minutes and works once per API process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from settings import Settings

COOKIE = "seqflow_console"
SESSION_SECONDS = 12 * 3600
LINK_SECONDS = 600
_used_links: set[str] = set()


@dataclass(frozen=True)
class Session:
    workspace: str
    actor: str
    key_id: str  # a hash of the API key: still configured, or the session is over
    csrf: str
    flash: str | None = None


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.token_secret_bytes(), salt=f"seqflow/console/{purpose}")


def key_id(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


def sign_in(settings: Settings, api_key: str) -> Session | None:
    owner = settings.api_key_owners().get(api_key)
    if owner is None:
        return None
    return Session(owner.workspace, owner.user, key_id(api_key), secrets.token_urlsafe(24))


def encode(settings: Settings, session: Session) -> str:
    data = [session.workspace, session.actor, session.key_id, session.csrf, session.flash]
    return _serializer(settings, "session").dumps(data)


def decode(settings: Settings, cookie: str | None) -> Session | None:
    if not cookie:
        return None
    try:
        workspace, actor, kid, csrf, flash = _serializer(settings, "session").loads(
            cookie, max_age=SESSION_SECONDS
        )
    except (BadSignature, ValueError, TypeError):
        return None
    known = {key_id(key) for key in settings.api_key_owners()}
    if kid not in known:
        return None  # the key was removed: so is every session it opened
    return Session(workspace, actor, kid, csrf, flash)


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())


def login_link(settings: Settings, api_key: str) -> str:
    """A one-time sign-in path for `api_key` (make run prints it)."""
    token = _serializer(settings, "link").dumps([key_id(api_key), secrets.token_hex(8)])
    return f"/login/{token}"


def use_login_link(settings: Settings, token: str) -> Session | None:
    try:
        kid, nonce = _serializer(settings, "link").loads(token, max_age=LINK_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    if nonce in _used_links:
        return None
    for key, owner in settings.api_key_owners().items():
        if key_id(key) == kid:
            _used_links.add(nonce)
            return Session(owner.workspace, owner.user, kid, secrets.token_urlsafe(24))
    return None
