"""The one place configuration is read: environment variables prefixed SEQFLOW_.

The embedded stack (`make run`) and docker-compose set the same variables, so the same code runs
in both. Tests build a `Settings(...)` directly instead of touching the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.pacing import CEILING, TOLERANCE
from workflows.contract import DEFAULT_TASK_QUEUE

DATA_DIR = Path(".data")
MIN_SECRET_LENGTH = 32
KNOWN_SECRETS = frozenset({"changeme", "secret", "change-me-to-a-random-value"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEQFLOW_", extra="ignore")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    # Only for the embedded stack: where `make run` serves the Temporal Web UI.
    temporal_ui_port: int = 8233
    task_queue: str = DEFAULT_TASK_QUEUE

    # "key:workspace,key2:workspace2"; an API key belongs to exactly one workspace.
    api_keys: SecretStr = SecretStr("")
    api_port: int = 8000
    # Where the API listens: this machine only, unless a deployment says otherwise (compose).
    api_host: str = "127.0.0.1"
    # Signs unsubscribe links and bulk-action confirmation tokens: the same value on every API
    # replica and worker. Required outside dev mode (`make run` makes one and keeps it in
    # .data/). To rotate: move the old value to `token_secrets_previous` (comma-separated),
    # which is still accepted for links already sent.
    token_secret: SecretStr = SecretStr("")
    token_secrets_previous: SecretStr = SecretStr("")
    # Base URL the API is reachable at, used in links we email (List-Unsubscribe).
    public_url: str = "http://127.0.0.1:8000"

    database_url: str = f"sqlite+aiosqlite:///{DATA_DIR}/seqflow.db"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_from: str = "seqflow <outreach@seqflow.localhost>"
    smtp_timeout: timedelta = timedelta(seconds=30)
    # A stopping worker (SIGTERM, SIGINT) stops polling at once, begins no new hand-over and
    # lets its running activities finish for this long before it cancels them (a fan-out is
    # then carried on by another worker from its heartbeat). A hand-over already in its SMTP
    # DATA (or the provider's POST) is finished even past it, within the SMTP timeout. None:
    # the SMTP timeout + 5 s. A supervisor's kill deadline (compose's stop_grace_period)
    # must be longer than this plus the SMTP timeout.
    shutdown_grace: timedelta | None = None

    # SMS and LinkedIn go through an HTTP provider; unset means the dev outbox (files).
    provider_url: str | None = None
    provider_token: SecretStr = SecretStr("")

    # Dev mode exposes GET /dev/outbox, listing what the local SMTP sink received.
    dev_mode: bool = False
    outbox_dir: Path = DATA_DIR / "outbox"

    # Outbound webhooks: a failed delivery is tried again after webhook_first_retry, then
    # twice as long each time up to webhook_max_retry, for webhook_give_up_after; then its
    # endpoint is disabled. The worker looks for new deliveries every webhook_poll.
    webhook_first_retry: timedelta = timedelta(seconds=5)
    webhook_max_retry: timedelta = timedelta(hours=1)
    webhook_give_up_after: timedelta = timedelta(days=3)
    webhook_poll: timedelta = timedelta(seconds=0.5)

    # Worker tuning: how many recipient workflows stay cached (memory vs. replay cost). A cached
    # recipient that has sent a step holds ~120 KB (most of it in the SDK's Rust core), so
    # 6,000 keep a worker under 1 GiB; scale workers out for more.
    max_cached_workflows: int = 6000
    # Recipients a sequence's fan-out reaches at once: what it leaves of the worker and the
    # server decides how long a person's single action waits meanwhile (bench.head_of_line).
    fan_out_concurrency: int = Field(default=CEILING, ge=1, le=200)
    # Within that ceiling a fan-out sends only as many as keep Temporal's answers within this
    # multiple of their unloaded time (activities/pacing.py): lower favours people's clicks,
    # higher the fan-out's own speed.
    fan_out_latency_tolerance: float = Field(default=TOLERANCE, ge=1.1, le=10.0)
    # Run workflow code in Temporal's import sandbox. The test suite always does, so every
    # workflow path is checked there; the worker does not by default, because the sandbox
    # re-imports the workflow module for each instance (memory, and ~2x the CPU of a replay).
    workflow_sandbox: bool = False

    # Prometheus metrics of a worker (docs/observability.md): seqflow's own on
    # worker_metrics_port, the Temporal SDK's (served by its core) on worker_sdk_metrics_port,
    # both at /metrics on metrics_host. None: not served (tests, unless one asks). The API
    # serves its own at /metrics on its port.
    worker_metrics_port: int | None = None
    worker_sdk_metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    # Traces (docs/observability.md, "Tracing"): an OTLP/HTTP traces endpoint, e.g.
    # http://collector:4318/v1/traces, the same for the API and every worker. None: no
    # tracing at all (no tracer provider, no Temporal interceptor, no HTTP middleware).
    otlp_endpoint: str | None = None

    def worker_shutdown_grace(self) -> timedelta:
        """`shutdown_grace`, or a little more than the SMTP timeout when it is not set."""
        if self.shutdown_grace is not None:
            return self.shutdown_grace
        return self.smtp_timeout + timedelta(seconds=5)

    def token_secret_bytes(self) -> bytes:
        """The secret new tokens are signed with."""
        return self.token_secret.get_secret_value().encode()

    def token_secrets_accepted(self) -> list[bytes]:
        """The current secret first, then the previous ones still accepted."""
        previous = self.token_secrets_previous.get_secret_value().split(",")
        secrets = [self.token_secret.get_secret_value(), *(p.strip() for p in previous)]
        return [secret.encode() for secret in secrets if secret]

    def refuse_unsafe_production(self) -> None:
        """Outside dev mode, a process does not start without a real token secret: with none
        (or a published one) anyone could forge unsubscribe links."""
        if self.dev_mode:
            return
        secret = self.token_secret.get_secret_value()
        if len(secret) < MIN_SECRET_LENGTH or secret in KNOWN_SECRETS:
            raise SystemExit(
                "SEQFLOW_TOKEN_SECRET must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`), "
                "the same on every API and worker"
            )

    def api_key_owners(self) -> dict[str, ApiKeyOwner]:
        """Parse `api_keys` ("key:workspace[:user],…"); a malformed entry is a startup error."""
        owners: dict[str, ApiKeyOwner] = {}
        raw = self.api_keys.get_secret_value().strip()
        for entry in filter(None, (part.strip() for part in raw.split(","))):
            key, workspace, user = ([*entry.split(":", 2), ""])[:3]
            if not key or not workspace:
                raise ValueError(f"SEQFLOW_API_KEYS entry {entry!r} is not 'key:workspace[:user]'")
            owners[key] = ApiKeyOwner(workspace=workspace, user=user or f"{workspace}-api")
        return owners


@dataclass(frozen=True)
class ApiKeyOwner:
    workspace: str
    user: str  # shown as the actor in recipients' timelines


@lru_cache
def get_settings() -> Settings:
    return Settings()


__all__ = ["DATA_DIR", "ApiKeyOwner", "Settings", "get_settings"]
