"""Static checks of docker-compose.yml and the Dockerfile: no Docker engine is needed, and a
compose stack that is wired wrong otherwise only fails at `docker compose up` time."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from observability import metrics
from settings import Settings
from workflows.contract import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
APPS = ("api", "worker")
REQUIRED_ENV = {
    "SEQFLOW_TEMPORAL_ADDRESS", "SEQFLOW_TEMPORAL_NAMESPACE", "SEQFLOW_TASK_QUEUE",
    "SEQFLOW_API_KEYS", "SEQFLOW_SMTP_HOST", "SEQFLOW_SMTP_PORT", "SEQFLOW_DATABASE_URL",
    "SEQFLOW_API_PORT", "SEQFLOW_PUBLIC_URL", "SEQFLOW_API_HOST", "SEQFLOW_TOKEN_SECRET",
}  # fmt: skip


def expand(value: object) -> str:  # `${VAR:-default}` as compose resolves it with VAR unset
    # (`${VAR:?message}`, a required variable, resolves to nothing here.)
    return re.sub(r"\$\{\w+(?::?[-?]([^}]*))?\}", lambda m: _default(m), str(value))


def _default(match: re.Match[str]) -> str:
    return "" if ":?" in match.group(0) else match.group(1) or ""


def env(service: str) -> dict[str, str]:
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, list):  # the `- KEY=value` form
        raw = dict(item.split("=", 1) for item in raw)
    return {key: expand(value) for key, value in raw.items()}


def service_with_image(prefix: str) -> str:
    [name] = [n for n, s in SERVICES.items() if str(s.get("image", "")).startswith(prefix)]
    return name


def job_script(service: str) -> str:  # the deploy/temporal script an admin-tools job runs
    command = SERVICES[service]["command"]
    command = command if isinstance(command, str) else " ".join(command)
    [script] = re.findall(r"/deploy/([\w./-]+\.sh)", command)
    assert "./deploy/temporal:/deploy:ro" in SERVICES[service]["volumes"]
    return (ROOT / "deploy" / "temporal" / script).read_text()


# The stack the code needs: a service missing here is a feature missing in production.
@pytest.mark.parametrize("name, image", {
    "temporal": "temporalio/server:", "temporal-schema": "temporalio/admin-tools:",
    "temporal-namespace": "temporalio/admin-tools:", "temporal-ui": "temporalio/ui:",
    "postgresql": "postgres:16", "mailpit": "axllent/mailpit:",
    "api": "seqflow:", "worker": "seqflow:",
    "prometheus": "prom/prometheus:", "grafana": "grafana/grafana:",
}.items())  # fmt: skip
def test_service_exists_with_image(name: str, image: str) -> None:
    assert str(SERVICES[name].get("image", "")).startswith(image)


# api and worker are the image built from this repository, each running its own entry point.
@pytest.mark.parametrize("app", APPS)
def test_app_runs_its_entry_point(app: str) -> None:
    assert SERVICES[app]["build"] == "."
    assert SERVICES[app]["command"] == ["python", "-m", app]


# auto-setup is deprecated and unpinned images change under a running deployment.
def test_images_are_pinned_and_not_deprecated() -> None:
    for name, service in SERVICES.items():
        image = str(service["image"])
        assert "auto-setup" not in image, name
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
    assert "auto-setup" not in (ROOT / "docker-compose.yml").read_text()


# A misspelled SEQFLOW_* name is silently ignored (extra="ignore") and the default is used.
def test_app_environment_matches_settings() -> None:
    prefix = Settings.model_config["env_prefix"]
    for app in APPS:
        variables = {k: v for k, v in env(app).items() if k.startswith(prefix)}
        assert REQUIRED_ENV <= variables.keys(), f"{app} lacks {REQUIRED_ENV - variables.keys()}"
        fields = {k.removeprefix(prefix).lower(): v for k, v in variables.items()}
        assert fields.keys() <= Settings.model_fields.keys(), app
        Settings(**fields)  # every value parses as its field's type


# Host names must be compose service names, or the apps cannot reach their dependencies.
def test_app_connections_point_at_services() -> None:
    mail = service_with_image("axllent/mailpit:")
    for app in APPS:
        values = env(app)
        host, port = values["SEQFLOW_TEMPORAL_ADDRESS"].split(":")
        assert (host, port) == (service_with_image("temporalio/server:"), "7233")
        assert (values["SEQFLOW_SMTP_HOST"], values["SEQFLOW_SMTP_PORT"]) == (mail, "1025")
        url = urlsplit(values["SEQFLOW_DATABASE_URL"])
        assert url.scheme == "postgresql+asyncpg"
        assert url.hostname == service_with_image("postgres:")
        assert url.path == "/seqflow"
    # The API listens on SEQFLOW_API_PORT inside its container; that port must be published.
    published = {str(p).rsplit(":", 1)[-1] for p in SERVICES["api"]["ports"]}
    assert env("api")["SEQFLOW_API_PORT"] in published


# Workflows upsert these attributes; an unregistered one fails every recipient workflow.
def test_setup_job_registers_exactly_the_search_attributes() -> None:
    script = job_script("temporal-namespace")
    registered = set(re.findall(r"^ensure_search_attribute (\w+) (\w+)$", script, re.M))
    expected = {(key.name, key.indexed_value_type.name) for key in SEARCH_ATTRIBUTES}
    assert {(name, kind.upper()) for name, kind in registered} == expected
    assert env("temporal-namespace")["NAMESPACE"] == env("worker")["SEQFLOW_TEMPORAL_NAMESPACE"]


# The schema job must migrate the very databases the server is configured to use.
def test_schema_job_migrates_the_server_databases() -> None:
    assert "temporal-sql-tool" in job_script("temporal-schema")
    server, job = env("temporal"), env("temporal-schema")
    assert job["TEMPORAL_DB"] == server["DBNAME"]
    assert job["VISIBILITY_DB"] == server["VISIBILITY_DBNAME"]


# `docker compose up --scale worker=N` fails on a fixed container name or host port.
def test_worker_scales() -> None:
    assert not {"container_name", "ports"} & SERVICES["worker"].keys()


# Start-up order: the server needs its schema; the apps need the namespace and attributes.
def test_start_up_order() -> None:
    temporal = SERVICES["temporal"]["depends_on"]
    assert temporal["temporal-schema"]["condition"] == "service_completed_successfully"
    assert temporal["postgresql"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["postgresql"]
    for app in APPS:
        condition = SERVICES[app]["depends_on"]["temporal-namespace"]["condition"]
        assert condition == "service_completed_successfully"


# Every package pyproject.toml installs must be copied into the image, or `pip install .` fails.
def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {p.strip("/") for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M)
              for p in line.split()}  # fmt: skip
    tops = {p.split(".")[0] for p in setuptools["packages"]}
    assert tops | {f"{m}.py" for m in setuptools["py-modules"]} <= copied
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")  # the app does not run as root


def test_the_token_secret_has_no_default() -> None:
    """Unsubscribe links signed with a published default could be forged by anyone."""
    raw = COMPOSE["x-seqflow-environment"]["SEQFLOW_TOKEN_SECRET"]
    assert raw.startswith("${SEQFLOW_TOKEN_SECRET:?"), raw


# ---- metrics: Prometheus scrapes what the apps serve, Grafana asks for what the code defines --

# The ports each app listens on, by the setting that says so (the env is shared, so the
# worker's also holds SEQFLOW_API_PORT: it does not listen there).
LISTENS = {
    "api": ("SEQFLOW_API_PORT",),
    "worker": ("SEQFLOW_WORKER_METRICS_PORT", "SEQFLOW_WORKER_SDK_METRICS_PORT"),
}


def mounted(service: str, source: str) -> str:
    """Where `service` mounts ./`source` (a file or folder of this repository)."""
    for volume in SERVICES[service].get("volumes", []):
        host, container, *_ = str(volume).split(":")
        if host.rstrip("/") == f"./{source}".rstrip("/"):
            return container
    raise AssertionError(f"{service} does not mount ./{source}")


def scrape_targets() -> set[tuple[str, str, str]]:
    """(job, host, port) of every target in deploy/prometheus.yml, static or found by DNS."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    found: set[tuple[str, str, str]] = set()
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                found.add((job["job_name"], host, port))
        for dns in job.get("dns_sd_configs", []):
            assert dns.get("type", "SRV") == "A", "compose's DNS answers A records"
            found |= {(job["job_name"], name, str(dns["port"])) for name in dns["names"]}
    return found


def test_prometheus_scrapes_every_metrics_port_of_the_apps_and_nothing_else() -> None:
    assert mounted("prometheus", "deploy/prometheus.yml") == "/etc/prometheus/prometheus.yml"
    targets = scrape_targets()
    for job, host, port in targets:
        assert host in LISTENS, f"{job}: {host} is not an app service of docker-compose.yml"
        listening = {env(host)[variable] for variable in LISTENS[host]}
        assert port in listening, f"{job}: {host} listens on {sorted(listening)}, not {port}"
    served = {(app, env(app)[v]) for app, variables in LISTENS.items() for v in variables}
    assert {(host, port) for _, host, port in targets} == served
    # A worker binds its metrics to every interface of its container, or Prometheus cannot
    # reach them; and the worker keeps no host ports (it scales).
    assert env("worker")["SEQFLOW_METRICS_HOST"] == "0.0.0.0"


def grafana_dashboards() -> list[dict]:
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    assert mounted("grafana", "deploy/grafana/provisioning") == "/etc/grafana/provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    dashboards = []
    for provider_file in (provisioning / "dashboards").glob("*.yml"):
        for provider in yaml.safe_load(provider_file.read_text())["providers"]:
            in_container = provider["options"]["path"]
            folder = mounted("grafana", "deploy/grafana/dashboards")
            assert in_container == folder, f"{provider_file.name} reads {in_container}"
            for file in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"):
                dashboard = json.loads(file.read_text())
                for panel in dashboard["panels"]:
                    if panel["type"] != "row":
                        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
                dashboards.append(dashboard)
    assert dashboards, "no dashboard is provisioned"
    return dashboards


def test_the_dashboard_asks_only_for_metrics_the_code_defines() -> None:
    queries = [
        target["expr"]
        for dashboard in grafana_dashboards()
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    ours = {name for query in queries for name in re.findall(r"\bseqflow_\w+", query)}
    sdk = {name for query in queries for name in re.findall(r"\btemporal_\w+", query)}
    assert ours <= metrics.SAMPLE_NAMES, (
        f"not defined in observability/metrics.py: {ours - metrics.SAMPLE_NAMES}"
    )
    assert sdk <= metrics.SDK_METRICS, (
        f"not in observability.metrics.SDK_METRICS: {sdk - metrics.SDK_METRICS}"
    )
    # Every figure is on it: each metric we define, and each SDK metric we rely on.
    missing = set(metrics.SAMPLES.values()) - {metrics.SAMPLES[name] for name in ours}
    assert not missing, f"not on the dashboard: {missing}"
    assert sdk == metrics.SDK_METRICS
