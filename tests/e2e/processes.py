"""Real worker processes (`python -m worker`) for the fault and shutdown tests: start one on a
test's task queue and store, find it by the identity it gives Temporal, kill it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.conftest import TOKEN_SECRET, SmtpSink

READY = "polling task queue"  # the worker's log line once it polls


def start_worker(
    env: WorkflowEnvironment,
    task_queue: str,
    db_url: str,
    smtp: SmtpSink,
    log: Path,
    **extra: str,
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SEQFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SEQFLOW_TASK_QUEUE": task_queue,
        "SEQFLOW_TOKEN_SECRET": TOKEN_SECRET,  # a production worker refuses to start without
        "SEQFLOW_DATABASE_URL": db_url,
        "SEQFLOW_SMTP_HOST": smtp.host,
        "SEQFLOW_SMTP_PORT": str(smtp.port),
        **extra,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill9(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=20)


def identity(worker: subprocess.Popen[bytes]) -> str:
    """The identity the SDK gives this process's worker (its default: pid@host), as Temporal
    records it on every task the worker took."""
    return f"{worker.pid}@{socket.gethostname()}"


async def wait_for_log(
    worker: subprocess.Popen[bytes], log: Path, needle: str, timeout: float = 60
) -> None:
    """Until `needle` appears in this worker's own log file."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while needle not in _text(log):
        assert worker.poll() is None, f"the worker exited ({worker.returncode}); see {log}"
        assert loop.time() < deadline, f"no {needle!r} in {log} after {timeout:.0f} s"
        await asyncio.sleep(0.1)


def _text(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
