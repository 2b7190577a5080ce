"""`make run` end to end: `python -m devstack` starts the embedded stack in an empty directory,
serves the README's curl session (an email lands in the SMTP sink), and stops cleanly on SIGTERM.

It runs in a temporary working directory on free ports, so `.data/` and the servers of a
developer's own `make run` are never touched.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.devserver

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def stack_environment(tmp_path: Path) -> tuple[dict[str, str], str]:
    temporal, ui, api, smtp = distinct_free_ports(4)
    # None of the caller's SEQFLOW_* settings: the stack must work from a fresh clone's defaults.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SEQFLOW_")}
    env |= {
        "SEQFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "SEQFLOW_TEMPORAL_UI_PORT": str(ui),
        "SEQFLOW_API_PORT": str(api),
        "SEQFLOW_SMTP_PORT": str(smtp),
        "SEQFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/seqflow.db",
    }
    return env, f"http://127.0.0.1:{api}"


def wait_until_ready(stack: subprocess.Popen[bytes], api_url: str, log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        assert stack.poll() is None, f"devstack exited with {stack.returncode}:\n{log.read_text()}"
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/readyz not 200 within {READY_TIMEOUT:g} s:\n{log.read_text()}")


def still_alive(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{process.pid} {' '.join(process.cmdline())}")
        except psutil.NoSuchProcess:
            pass
    return alive


def eventually(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_make_run_serves_the_readme_session_and_stops_cleanly(tmp_path: Path) -> None:
    env, api_url = stack_environment(tmp_path)
    log = tmp_path / "devstack.log"
    children: list[psutil.Process] = []
    with log.open("wb") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=tmp_path,  # the modules come from the editable install; .data/ lands here
            env=env,
            stdin=subprocess.DEVNULL,  # as under CI: no terminal at all
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as `make run` has in a shell
        )
    try:
        ready_after = wait_until_ready(stack, api_url, log)
        print(f"\ndevstack: spawn -> /readyz 200 in {ready_after:.2f} s")

        children = psutil.Process(stack.pid).children(recursive=True)
        commands = [" ".join(child.cmdline()) for child in children]
        assert any("temporal server start-dev" in c for c in commands), commands
        assert any(c.endswith("-m worker") for c in commands), commands
        assert any(c.endswith("-m api") for c in commands), commands

        key = (tmp_path / ".data" / "dev-api-key").read_text().strip()

        def banner_printed() -> None:  # devstack prints it right after its own /readyz probe
            printed = log.read_text()
            assert f"Bearer {key}" in printed  # the key and a curl line to try it
            assert f"{api_url}/docs" in printed

        eventually(banner_printed, timeout=10)

        # The console link signs the development user in, once.
        [link] = re.findall(r"Console\s+(\S+/login/\S+)", log.read_text())
        with httpx.Client(follow_redirects=True, timeout=10) as browser_like:
            opened = browser_like.get(link)
            assert opened.status_code == 200 and "<h1>Sequences</h1>" in opened.text, opened.text
        assert httpx.get(link).status_code == 401  # used: the sign-in page

        with httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as http:
            created = http.post(
                "/v1/sequences",
                json={
                    "name": "Backend engineers",
                    "steps": [
                        {
                            "type": "email",
                            "delay": "PT0S",
                            "subject": "Hi {{ first_name }}",
                            "body": "Hello {{ first_name }}, are you open to a chat?",
                        }
                    ],
                },
            )
            assert created.status_code == 201, created.text
            sequence_id = created.json()["id"]
            enrolled = http.post(
                f"/v1/sequences/{sequence_id}/recipients",
                json={"recipients": [{"email": "ada@example.com", "first_name": "Ada"}]},
            )
            assert enrolled.status_code == 201, enrolled.text
            [recipient] = enrolled.json()["enrolled"]

            def completed() -> None:
                response = http.get(f"/v1/sequences/{sequence_id}/recipients/{recipient['id']}")
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "completed", response.json()

            eventually(completed)

            assert httpx.get(f"{api_url}/dev/outbox").status_code == 401  # contents need a key
            outbox = http.get("/dev/outbox")
            assert outbox.status_code == 200, outbox.text
            [email] = [m for m in outbox.json() if m.get("subject") == "Hi Ada"]
            assert email["to"] == "ada@example.com"
            assert email["text"].startswith("Hello Ada, are you open to a chat?")
            assert (tmp_path / ".data" / "outbox" / email["file"]).is_file()
            assert [p.name for p in (tmp_path / ".data" / "outbox").glob("*.eml")] == [
                email["file"]
            ]

            # The dev server dies while a recipient waits on its timer: it is started again,
            # and the timer fires, once.
            later = http.post(
                "/v1/sequences",
                json={
                    "name": "Timer across a crash",
                    "steps": [
                        {"type": "email", "delay": "PT8S", "subject": "Later", "body": "Once"}
                    ],
                },
            ).json()["id"]
            waiting = http.post(
                f"/v1/sequences/{later}/recipients", json={"recipients": [{"email": "g@x.io"}]}
            )
            assert waiting.status_code == 201, waiting.text
            [grace] = waiting.json()["enrolled"]
            [temporal] = [
                p for p in children if "temporal server start-dev" in " ".join(p.cmdline())
            ]
            temporal.kill()

            def restarted() -> None:
                printed = log.read_text()
                assert "temporal exited" in printed and "temporal started again" in printed

            eventually(restarted, timeout=30)

            def grace_completed() -> None:
                response = http.get(f"/v1/sequences/{later}/recipients/{grace['id']}")
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "completed", response.json()

            eventually(grace_completed, timeout=120)
            sent = [m for m in http.get("/dev/outbox").json() if m.get("subject") == "Later"]
            assert len(sent) == 1, sent
        children += psutil.Process(stack.pid).children(recursive=True)

        os.killpg(stack.pid, signal.SIGTERM)  # as `kill -TERM -<pgid>` / a supervisor does
        stopping = time.monotonic()
        code = stack.wait(timeout=STOP_TIMEOUT)
        print(f"devstack: stopped in {time.monotonic() - stopping:.2f} s")
        assert code == 0, log.read_text()
        assert still_alive(children) == [], log.read_text()
    finally:
        # Whatever happened above, leave no servers behind.
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        for process in children:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        print(log.read_text())
