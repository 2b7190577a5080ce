"""A real HTTP server that receives outbound webhooks, as a host application's would: it
keeps what it got (headers and body bytes) and can answer errors for its first tries."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    delay: float = 0.0  # seconds before each answer: deliveries overlap a kill
    answered: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.event["type"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver(fail_first: int = 0, delay: float = 0.0) -> Receiver:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            time.sleep(receiver.delay)
            with lock:
                failing = receiver.fail_first > len(receiver.answered)
                code = 500 if failing else 200
                receiver.answered.append(code)
                if not failing:
                    receiver.received.append(Received(dict(self.headers.items()), body))
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server, fail_first=fail_first, delay=delay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
