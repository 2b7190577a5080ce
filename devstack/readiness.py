"""Waiting for the parts of the stack, so each starts only once what it needs answers.

The worker and the API exit at once when Temporal does not answer, so they start only after
the dev server has created its namespace; "ready" for a person is the API's /readyz.
"""

from __future__ import annotations

import asyncio
import errno
import socket

import httpx
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from devstack.plan import StartupError
from settings import Settings
from workflows.client import connect_client

POLL_INTERVAL = 0.2


def check_port_free(host: str, port: int, what: str, setting: str) -> None:
    """Fail early with the fix, rather than with a child's bind error in the middle of logs."""
    with socket.socket() as sock:
        # As servers do: a port left in TIME_WAIT by the previous run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                problem = "is already in use: is another `make run` still running? Stop it, or"
            else:
                problem = f"cannot be used ({exc.strerror}):"
            raise StartupError(
                f"port {port} ({what}) {problem} choose another: {setting}"
            ) from None


async def wait_for_temporal(settings: Settings, timeout: float = 60) -> None:
    last_error = "no attempt yet"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            async with asyncio.timeout(5):
                client = await connect_client(settings)
                # The namespace is created a moment after the port opens.
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=settings.temporal_namespace)
                )
            return
        except Exception as exc:  # not up yet: any failure means "try again"
            last_error = f"{exc.__class__.__name__}: {exc}"
        await asyncio.sleep(POLL_INTERVAL)
    raise StartupError(
        f"Temporal did not answer on {settings.temporal_address} within {timeout:g} s "
        f"({last_error})"
    )


async def wait_for_api(url: str, timeout: float = 60) -> None:
    last_error = "no attempt yet"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < deadline:
            try:
                response = await http.get(f"{url}/readyz")
                if response.status_code == 200:
                    return
                last_error = f"{response.status_code} {response.text}"
            except httpx.HTTPError as exc:
                last_error = f"{exc.__class__.__name__}: {exc}"
            await asyncio.sleep(POLL_INTERVAL)
    raise StartupError(
        f"the API did not become ready at {url}/readyz in {timeout:g} s: {last_error}"
    )
